/* 16550A UART emulation: enough for Linux's 8250 driver (FIFO detection, THRE interrupts, modem loopback for
 * autoconfig). The console is output only: copied to the log and, with --console, to stdout; its receiver
 * stays empty. Interactive use goes through sessions over vsock (a terminal on the serial line would need raw
 * mode, its restore on every exit path and a decision about who gets Ctrl-C, for a console nobody types
 * into). Every register access is a VM exit, which is why the guest boots `quiet`. */
#include "serial.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../x86/layout.h"

#define UART_RX  0
#define UART_TX  0
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_THRI        0x02
#define IIR_NO_INT      0x01
#define IIR_THRI        0x02
#define IIR_FIFO_BITS   0xc0
#define FCR_FIFO_ENABLE 0x01
#define LCR_DLAB        0x80
#define MCR_LOOP        0x10
#define LSR_THRE        0x20
#define LSR_TEMT        0x40
#define MSR_DCD         0x80
#define MSR_DSR         0x20
#define MSR_CTS         0x10

#define LINE_MAX_LEN 1024

struct serial {
    struct vm *vm;
    pthread_mutex_t lock;
    uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
    bool thri_pending;
    int irq_level;
    int log_fd, out_fd;
    char line[LINE_MAX_LEN];
    size_t line_len;
};

static uint8_t iir_of(const struct serial *s)
{
    if ((s->ier & IER_THRI) && s->thri_pending)
        return IIR_THRI;
    return IIR_NO_INT;
}

/* The IOAPIC pin is edge-triggered: raise the line when an interrupt becomes pending, drop it otherwise. */
static void update_irq(struct serial *s)
{
    int level = iir_of(s) != IIR_NO_INT;
    if (level != s->irq_level) {
        kvm_irq_line(&s->vm->kvm, IRQ_COM1, level);
        s->irq_level = level;
    }
}

/* The guest's console output. A failed write (a full disk, a closed terminal) is dropped: it must not stop
 * the guest. */
static void console_write(int fd, const void *buf, size_t len)
{
    if (fd >= 0)
        (void)write_full(fd, buf, len);
}

static void flush_line(struct serial *s)
{
    if (!s->line_len)
        return;
    console_write(s->log_fd, s->line, s->line_len);
    size_t n = s->line_len;
    if (s->line[n - 1] == '\n')
        n--;
    if (n && s->line[n - 1] == '\r')
        n--;
    s->line[n] = '\0';
    vm_console_line(s->vm, s->line, n);
    s->line_len = 0;
}

static void tx_byte(struct serial *s, uint8_t c)
{
    console_write(s->out_fd, &c, 1);
    s->line[s->line_len++] = (char)c;
    if (c == '\n' || s->line_len == LINE_MAX_LEN - 1)
        flush_line(s);
}

static void serial_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    struct serial *s = opaque;
    memset(data, 0, len);
    pthread_mutex_lock(&s->lock);
    bool dlab = s->lcr & LCR_DLAB;
    switch (off) {
    case UART_RX:
        if (dlab)
            data[0] = s->dll; /* else the receiver is empty: 0 */
        break;
    case UART_IER:
        data[0] = dlab ? s->dlm : s->ier;
        break;
    case UART_IIR: {
        uint8_t iir = iir_of(s);
        data[0] = iir | ((s->fcr & FCR_FIFO_ENABLE) ? IIR_FIFO_BITS : 0);
        if (iir == IIR_THRI)
            s->thri_pending = false; /* reading IIR acknowledges a THRE interrupt */
        break;
    }
    case UART_LCR:
        data[0] = s->lcr;
        break;
    case UART_MCR:
        data[0] = s->mcr;
        break;
    case UART_LSR:
        data[0] = LSR_THRE | LSR_TEMT; /* never Data Ready: nothing is received */
        break;
    case UART_MSR:
        if (s->mcr & MCR_LOOP) /* loopback: outputs reflect onto the modem inputs */
            data[0] = (uint8_t)(((s->mcr & 0x0c) << 4) | ((s->mcr & 0x02) << 3) | ((s->mcr & 0x01) << 5));
        else
            data[0] = MSR_DCD | MSR_DSR | MSR_CTS;
        break;
    case UART_SCR:
        data[0] = s->scr;
        break;
    }
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
}

static void serial_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct serial *s = opaque;
    (void)len;
    uint8_t v = data[0];
    pthread_mutex_lock(&s->lock);
    bool dlab = s->lcr & LCR_DLAB;
    switch (off) {
    case UART_TX:
        if (dlab) {
            s->dll = v;
        } else if (!(s->mcr & MCR_LOOP)) {
            tx_byte(s, v);
            s->thri_pending = true; /* the byte left at once: THR is empty again */
        }
        break;
    case UART_IER:
        if (dlab) {
            s->dlm = v;
        } else {
            if ((v & IER_THRI) && !(s->ier & IER_THRI))
                s->thri_pending = true;
            s->ier = v & 0x0f;
        }
        break;
    case UART_FCR:
        s->fcr = v & (FCR_FIFO_ENABLE | 0xc0);
        break;
    case UART_LCR:
        s->lcr = v;
        break;
    case UART_MCR:
        s->mcr = v & 0x1f;
        break;
    case UART_SCR:
        s->scr = v;
        break;
    }
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
}

void serial_flush(struct serial *s)
{
    pthread_mutex_lock(&s->lock);
    flush_line(s);
    pthread_mutex_unlock(&s->lock);
}

static void serial_free(void *p)
{
    struct serial *s = p;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int serial_create(struct vm *vm, int log_fd, int out_fd)
{
    struct serial *s = calloc(1, sizeof(*s));
    if (!s)
        return log_errno(ENOMEM, "serial console");
    s->vm = vm;
    s->log_fd = log_fd;
    s->out_fd = out_fd;
    s->mcr = 0x08; /* OUT2: interrupts routed */
    pthread_mutex_init(&s->lock, NULL);
    int r = bus_add(&vm->pio, PORT_COM1, 8, "serial", serial_read, serial_write, s);
    if (r < 0 || (r = vm_own_device(vm, s, serial_free)) < 0) {
        serial_free(s);
        return r;
    }
    vm->serial = s;
    return 0;
}
