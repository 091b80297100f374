/* Power and reset ports. Each write that ends the VM records why; the vCPU loop then stops. */
#include "platform.h"

#include <string.h>

#include "boot.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../x86/layout.h"

#define PM1_CNT_SCI_EN     0x0001
#define PM1_CNT_SLP_EN     0x2000
#define PM1_CNT_SLP_TYP(v) (((v) >> 10) & 7)
#define SLP_TYP_S5         5 /* matches \_S5 in the DSDT */
#define I8042_CMD_RESET    0xfe

static uint32_t le_value(const uint8_t *data, uint32_t len)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < len && i < 4; i++)
        v |= (uint32_t)data[i] << (8 * i);
    return v;
}

/* PM1 event block: status (offset 0, never any event pending) and enable (offset 2, read back as written,
 * or ACPICA decides the hardware is broken and logs errors about the global lock). */
static uint16_t pm1_enable;

static void pm1_evt_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    (void)opaque;
    uint8_t regs[4] = {0, 0, (uint8_t)__atomic_load_n(&pm1_enable, __ATOMIC_RELAXED),
                       (uint8_t)(__atomic_load_n(&pm1_enable, __ATOMIC_RELAXED) >> 8)};
    memset(data, 0, len);
    for (uint32_t i = 0; i < len && off + i < 4; i++)
        data[i] = regs[off + i];
}

static void pm1_evt_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    (void)opaque;
    for (uint32_t i = 0; i < len && off + i < 4; i++) {
        if (off + i == 2)
            __atomic_store_n(&pm1_enable, (uint16_t)((pm1_enable & 0xff00) | data[i]), __ATOMIC_RELAXED);
        else if (off + i == 3)
            __atomic_store_n(&pm1_enable, (uint16_t)((pm1_enable & 0x00ff) | (data[i] << 8)),
                             __ATOMIC_RELAXED);
    }
}

static void pm1_cnt_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    (void)opaque;
    memset(data, 0, len);
    if (off == 0)
        data[0] = PM1_CNT_SCI_EN; /* always in ACPI mode */
}

static void pm1_cnt_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct vm *vm = opaque;
    uint32_t v = le_value(data, len) << (8 * off);
    if (!(v & PM1_CNT_SLP_EN))
        return;
    if (PM1_CNT_SLP_TYP(v) == SLP_TYP_S5)
        vm_request_stop(vm, VM_STOP_POWEROFF, NULL);
    else
        vm_request_stop(vm, VM_STOP_ERROR, "guest requested unsupported sleep state %u", PM1_CNT_SLP_TYP(v));
}

static void reset_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    (void)off, (void)len;
    if (data[0] == ACPI_RESET_VALUE)
        vm_request_stop(opaque, VM_STOP_REBOOT, NULL);
}

static void i8042_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    (void)opaque, (void)off;
    memset(data, 0, len); /* status: no data, input buffer empty */
}

static void i8042_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    (void)len;
    if (off == PORT_I8042_CMD - PORT_I8042_DATA && data[0] == I8042_CMD_RESET)
        vm_request_stop(opaque, VM_STOP_REBOOT, NULL);
}

static void exit_port_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct vm *vm = opaque;
    (void)off, (void)len;
    __atomic_store_n(&vm->exit_status, data[0], __ATOMIC_RELEASE);
}

int platform_create(struct vm *vm)
{
    int r;
    if ((r = bus_add(&vm->pio, PORT_ACPI_PM1A_EVT, 4, "acpi-pm1-evt", pm1_evt_read, pm1_evt_write, vm)) < 0 ||
        (r = bus_add(&vm->pio, PORT_ACPI_PM1A_CNT, 2, "acpi-pm1-cnt", pm1_cnt_read, pm1_cnt_write, vm)) < 0 ||
        (r = bus_add(&vm->pio, PORT_ACPI_RESET, 1, "acpi-reset", NULL, reset_write, vm)) < 0 ||
        (r = bus_add(&vm->pio, PORT_I8042_DATA, 5, "i8042", i8042_read, i8042_write, vm)) < 0 ||
        (r = bus_add(&vm->pio, LSL_EXIT_PORT, 1, "lsl-exit", NULL, exit_port_write, vm)) < 0)
        return r;
    return 0;
}
