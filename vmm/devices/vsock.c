/* virtio-vsock (virtio 1.2, section 5.10), stream sockets only: the device's queues and config, the host
 * listener, and the epoll set that carries every connection's socket; the connections are in vsock_conn.c. */
#include "vsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/vm.h"
#include "unix_socket.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "virtio_mmio.h"
#include "vsock_int.h"

#define QUEUE_SIZE 256

static int tx_handle(struct virtio_dev *vdev, struct virtq_req *req)
{
    struct vsock *v = vdev->priv;
    struct vsock_hdr h;
    if (req->out_len < VSOCK_HDR_LEN) {
        vdev->stats.malformed++; /* not even the ports to answer with an RST */
        return 0;
    }
    iov_to_buf(req->iov, req->n_out, 0, &h, sizeof(h));
    vsock_packet(v, &h, req->iov, req->n_out, req->out_len);
    return 0;
}

/* Hands the guest what it is owed, one rx buffer per packet: queued RSTs first, then the connections in
 * round robin. Stops when either runs out; an rx kick or new socket readiness resumes it. */
static void rx_flush(struct vsock *v)
{
    struct virtio_dev *d = &v->vdev;
    struct virtq *vq = &d->vq[VSOCK_Q_RX];
    if (d->broken || !(d->status & VIRTIO_STATUS_DRIVER_OK) || !vq->ready)
        return;
    bool pushed = false;
    while (v->rst_len || v->rxq_head) {
        int r = virtq_pop(vq, d->mem, &v->rx_req);
        if (r < 0) {
            virtio_dev_break(d, "malformed rx ring");
            return;
        }
        if (r == 0) {
            if (virtq_arm_notify(vq))
                continue;
            break;
        }
        struct virtq_req *q = &v->rx_req;
        if (q->n_out || q->in_len <= VSOCK_HDR_LEN) {
            virtio_dev_break(d, "rx buffer too small for a packet");
            return;
        }
        uint32_t cap = (uint32_t)MIN(q->in_len, (uint64_t)VSOCK_HDR_LEN + VSOCK_MAX_PKT), used;
        if (v->rst_len) {
            used = vsock_rst_packet(v, virtq_req_in(q), q->n_in);
        } else {
            struct vsock_conn *c = v->rxq_head;
            vsock_rxq_del(v, c);
            used = conn_rx_packet(c, virtq_req_in(q), q->n_in, cap);
            vsock_rxq_add(v, c); /* to the tail, if it has more */
        }
        if (!used) {
            virtq_unpop(vq); /* nothing to say after all (socket drained): the buffer stays the guest's */
            continue;
        }
        d->stats.requests++;
        virtq_push(vq, q->head, used);
        pushed = true;
    }
    if (pushed)
        virtio_dev_signal(d, vq);
}

static void vsock_notify(struct virtio_dev *vdev, uint16_t q)
{
    struct vsock *v = vdev->priv;
    /* Event-queue buffers are only kept: this device never has a transport event to report. */
    if (q == VSOCK_Q_TX)
        virtio_process_queue(vdev, q, tx_handle);
    rx_flush(v);
    vsock_reap(v);
}

static void vsock_reset(struct virtio_dev *vdev)
{
    struct vsock *v = vdev->priv;
    vsock_close_all(v); /* the driver forgot every connection; the host ends see EOF */
    vsock_reap(v);
}

static const void *vsock_config(struct virtio_dev *vdev, uint32_t *len)
{
    struct vsock *v = vdev->priv;
    *len = sizeof(v->config);
    return &v->config;
}

static const struct virtio_dev_ops vsock_ops = {
    .name = "virtio-vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .num_queues = 3,
    .queue_max = QUEUE_SIZE,
    .features = 1ull << VIRTIO_VSOCK_F_STREAM,
    .config = vsock_config,
    .queue_notify = vsock_notify,
    .reset = vsock_reset,
};

void vsock_poll(struct vsock *v)
{
    pthread_mutex_lock(&v->vdev.lock);
    struct epoll_event evs[64];
    int n = epoll_wait(v->epfd, evs, ARRAY_SIZE(evs), 0);
    for (int i = 0; i < n; i++) {
        void *p = evs[i].data.ptr;
        if (p == &v->listen_fd) {
            vsock_accept(v);
        } else if (p == &v->timer_fd) {
            uint64_t ticks;
            if (read(v->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
                vsock_tick(v);
        } else {
            conn_event(p, evs[i].events);
        }
    }
    rx_flush(v);
    vsock_reap(v);
    pthread_mutex_unlock(&v->vdev.lock);
}

static int listen_at(const char *path)
{
    /* Guest-initiated connections go to PATH_<port>: leave room for "_4294967295". */
    if (strlen(path) + 12 > sizeof(((struct sockaddr_un *)0)->sun_path)) {
        log_error("vsock socket path %s is too long (at most %zu bytes)", path,
                  sizeof(((struct sockaddr_un *)0)->sun_path) - 12);
        return -ENAMETOOLONG;
    }
    int fd = unix_listen(path, 128);
    if (fd == -EEXIST)
        log_error("vsock socket path %s exists and is not a socket", path);
    else if (fd < 0)
        log_errno(-fd, "cannot listen on vsock socket %s", path);
    return fd;
}

static int epoll_watch(int epfd, int fd, void *tag)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

void vsock_free(void *p)
{
    struct vsock *v = p;
    if (!v)
        return;
    vsock_close_all(v);
    vsock_reap(v);
    if (v->listen_fd >= 0) {
        close(v->listen_fd);
        unlink(v->path);
    }
    if (v->epfd >= 0)
        close(v->epfd);
    if (v->timer_fd >= 0)
        close(v->timer_fd);
    free(v->path);
    virtq_req_free(&v->rx_req);
    virtio_dev_uninit(&v->vdev);
    free(v);
}

int vsock_new(const struct gmem *mem, uint64_t guest_cid, const char *uds_path, struct vsock **out)
{
    struct vsock *v = calloc(1, sizeof(*v));
    if (!v)
        return log_errno(ENOMEM, "virtio-vsock");
    virtio_dev_init(&v->vdev, &vsock_ops, v, mem);
    v->cid = v->config.guest_cid = guest_cid;
    v->next_port = VSOCK_LOCAL_PORT_BASE;
    v->listen_fd = v->epfd = v->timer_fd = -1;
    int r;
    if (!(v->path = strdup(uds_path))) {
        r = log_errno(ENOMEM, "virtio-vsock");
        goto fail;
    }
    v->epfd = epoll_create1(EPOLL_CLOEXEC);
    v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (v->epfd < 0 || v->timer_fd < 0) {
        r = log_errno(errno, "vsock: epoll/timerfd");
        goto fail;
    }
    if ((r = listen_at(uds_path)) < 0)
        goto fail;
    v->listen_fd = r;
    if ((r = epoll_watch(v->epfd, v->listen_fd, &v->listen_fd)) < 0 ||
        (r = epoll_watch(v->epfd, v->timer_fd, &v->timer_fd)) < 0) {
        log_errno(-r, "vsock: epoll_ctl");
        goto fail;
    }
    *out = v;
    return 0;
fail:
    vsock_free(v);
    return r;
}

struct virtio_dev *vsock_vdev(struct vsock *v)
{
    return &v->vdev;
}

int vsock_fd(const struct vsock *v)
{
    return v->epfd;
}

static void on_ready(void *opaque, uint32_t events)
{
    (void)events;
    vsock_poll(opaque);
}

int vsock_create(struct vm *vm, uint64_t guest_cid, const char *uds_path)
{
    struct vsock *v;
    int r = vsock_new(&vm->mem, guest_cid, uds_path, &v);
    if (r < 0)
        return r;
    if ((r = vm_own_device(vm, v, vsock_free)) < 0) {
        vsock_free(v);
        return r;
    }
    if ((r = virtio_mmio_attach(vm, &v->vdev)) < 0)
        return r;
    /* One entry in the VM's loop for all our sockets: vsock_poll can then free connections whose events are
     * still in the batch it is working through (they wait in the zombie list until it ends). */
    if ((r = evloop_add(&vm->loop, v->epfd, EPOLLIN, on_ready, v)) < 0)
        return log_errno(-r, "vsock: epoll");
    vm->vsock = v;
    return 0;
}
