/* Split virtqueue walker (virtio 1.x, section 2.7). Every index and address comes from a hostile guest:
 * indices are checked against the queue size, buffers resolved through gmem_ptr, chains bounded in length. */
#include "virtq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"

#define AVAIL_FLAGS(vq)   (&(vq)->avail[0])
#define AVAIL_IDX(vq)     (&(vq)->avail[1])
#define AVAIL_RING(vq, i) (&(vq)->avail[2 + (i)])
#define USED_EVENT(vq)    (&(vq)->avail[2 + (vq)->size])
#define USED_FLAGS(vq)    (&(vq)->used[0])
#define USED_IDX(vq)      (&(vq)->used[1])
#define USED_ELEM(vq, i)  ((struct virtq_used_elem *)&(vq)->used[2] + (i))
#define AVAIL_EVENT(vq)   ((uint16_t *)USED_ELEM(vq, (vq)->size))

static inline uint16_t load16(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void store16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

int virtq_enable(struct virtq *vq, const struct gmem *m)
{
    uint16_t n = vq->size;
    /* Split rings need a power-of-two size; alignment per spec 2.7: desc 16, avail 2, used 4. */
    if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
        return -EINVAL;
    if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
        return -EINVAL;
    vq->desc = gmem_ptr(m, vq->desc_gpa, 16ull * n);
    vq->avail = gmem_ptr(m, vq->avail_gpa, 6ull + 2ull * n);
    vq->used = gmem_ptr(m, vq->used_gpa, 6ull + 8ull * n);
    if (!vq->desc || !vq->avail || !vq->used)
        return -EINVAL;
    vq->last_avail = 0;
    vq->used_idx = 0;
    vq->signalled_valid = false;
    return 0;
}

void virtq_reset(struct virtq *vq)
{
    memset(vq, 0, sizeof(*vq));
}

void virtq_req_free(struct virtq_req *req)
{
    free(req->iov);
    memset(req, 0, sizeof(*req));
}

static int req_add(struct virtq_req *req, void *p, uint32_t len, bool writable)
{
    if (!writable && req->n_in)
        return -EINVAL; /* readable after writable: spec 2.7.4.2 forbids it */
    if (req->n_out + req->n_in == req->cap) {
        uint32_t cap = req->cap ? req->cap * 2 : 16;
        struct iovec *iov = realloc(req->iov, cap * sizeof(*iov));
        if (!iov)
            return -ENOMEM;
        req->iov = iov;
        req->cap = cap;
    }
    req->iov[req->n_out + req->n_in] = (struct iovec){.iov_base = p, .iov_len = len};
    if (writable) {
        req->n_in++;
        req->in_len += len;
    } else {
        req->n_out++;
        req->out_len += len;
    }
    return 0;
}

/* Walks the chain of `table` (n entries) starting at `idx`. Indirect tables may appear only at top level. */
static int walk_chain(const struct gmem *m, const struct virtq_desc *table, uint32_t n, uint16_t idx,
                      bool top, struct virtq_req *req)
{
    for (uint32_t steps = 0;; steps++) {
        if (idx >= n || steps >= n)
            return -EINVAL; /* out of range or a loop */
        struct virtq_desc d;
        memcpy(&d, &table[idx], sizeof(d)); /* one snapshot: the guest may rewrite it concurrently */
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!top || (d.flags & VIRTQ_DESC_F_NEXT) || d.len == 0 || (d.len % sizeof(struct virtq_desc)) ||
                d.len / sizeof(struct virtq_desc) > 65535 || (d.addr & 15))
                return -EINVAL;
            const struct virtq_desc *ind = gmem_ptr(m, d.addr, d.len);
            if (!ind)
                return -EINVAL;
            return walk_chain(m, ind, d.len / sizeof(struct virtq_desc), 0, false, req);
        }
        void *p = gmem_ptr(m, d.addr, d.len);
        if (!p)
            return -EINVAL;
        int r = req_add(req, p, d.len, d.flags & VIRTQ_DESC_F_WRITE);
        if (r < 0)
            return r;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        idx = d.next;
    }
}

int virtq_pop(struct virtq *vq, const struct gmem *m, struct virtq_req *req)
{
    if (!vq->ready || !vq->desc)
        return 0;
    uint16_t avail_idx = __atomic_load_n(AVAIL_IDX(vq), __ATOMIC_ACQUIRE);
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return 0;
    if (pending > vq->size)
        return -EINVAL; /* driver claims more entries than the ring holds */
    uint16_t head = load16(AVAIL_RING(vq, vq->last_avail % vq->size));
    req->n_out = req->n_in = 0;
    req->out_len = req->in_len = 0;
    req->head = head;
    int r = walk_chain(m, vq->desc, vq->size, head, true, req);
    if (r < 0)
        return r;
    vq->last_avail++;
    return 1;
}

void virtq_unpop(struct virtq *vq)
{
    vq->last_avail--;
}

bool virtq_more(const struct virtq *vq)
{
    return __atomic_load_n(AVAIL_IDX(vq), __ATOMIC_ACQUIRE) != vq->last_avail;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
    struct virtq_used_elem *e = USED_ELEM(vq, vq->used_idx % vq->size);
    __atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
    __atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
    vq->used_idx++;
    /* The element must be visible before the index that publishes it. */
    __atomic_store_n(USED_IDX(vq), vq->used_idx, __ATOMIC_RELEASE);
}

void virtq_push_batch(struct virtq *vq, const struct virtq_used_elem *elems, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct virtq_used_elem *e = USED_ELEM(vq, (uint16_t)(vq->used_idx + i) % vq->size);
        __atomic_store_n(&e->id, elems[i].id, __ATOMIC_RELAXED);
        __atomic_store_n(&e->len, elems[i].len, __ATOMIC_RELAXED);
    }
    vq->used_idx = (uint16_t)(vq->used_idx + n);
    __atomic_store_n(USED_IDX(vq), vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_signal(struct virtq *vq)
{
    /* Pairs with the driver's barrier between writing used_event and reading used->idx. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t new_idx = vq->used_idx;
    if (!vq->event_idx)
        return !(load16(AVAIL_FLAGS(vq)) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    uint16_t old = vq->signalled_used;
    bool valid = vq->signalled_valid;
    vq->signalled_used = new_idx;
    vq->signalled_valid = true;
    if (!valid)
        return true;
    uint16_t event = load16(USED_EVENT(vq));
    /* vring_need_event(): signal if new_idx passed event since the last signal. */
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_arm_notify(struct virtq *vq)
{
    if (!vq->ready || !vq->desc)
        return false;
    if (vq->event_idx)
        store16(AVAIL_EVENT(vq), vq->last_avail);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(AVAIL_IDX(vq), __ATOMIC_ACQUIRE) != vq->last_avail;
}

/* Copies between bytes [off, off+len) of an iovec array and a flat buffer, in either direction. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, uint8_t *buf, size_t len, bool to_iov)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        size_t c = MIN(iov[i].iov_len - off, len - done);
        uint8_t *seg = (uint8_t *)iov[i].iov_base + off;
        if (to_iov)
            memcpy(seg, buf + done, c);
        else
            memcpy(buf + done, seg, c);
        done += c;
        off = 0;
    }
    return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
    return iov_copy(iov, n, off, buf, len, false);
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
    return iov_copy(iov, n, off, (uint8_t *)buf, len, true);
}

int iov_slice(const struct iovec *src, unsigned n, size_t off, size_t len, struct iovec *dst,
              unsigned dst_cap)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n && len; i++) {
        if (off >= src[i].iov_len) {
            off -= src[i].iov_len;
            continue;
        }
        if (k == dst_cap)
            return -1;
        size_t c = MIN(src[i].iov_len - off, len);
        dst[k++] = (struct iovec){.iov_base = (uint8_t *)src[i].iov_base + off, .iov_len = c};
        len -= c;
        off = 0;
    }
    return len ? -1 : (int)k;
}
