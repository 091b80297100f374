/* musl-gcc has no kernel headers, so <linux/vm_sockets.h>'s address is spelled out here: a stable kernel
 * ABI. */
#ifndef LSL_INIT_VSOCK_ADDR_H
#define LSL_INIT_VSOCK_ADDR_H

#include <sys/socket.h>

struct lsl_sockaddr_vm {
    sa_family_t svm_family;
    unsigned short svm_reserved1;
    unsigned int svm_port;
    unsigned int svm_cid;
    unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(sa_family_t) - sizeof(unsigned short) -
                           2 * sizeof(unsigned int)];
};
#define LSL_VMADDR_CID_ANY  0xffffffffu
#define LSL_VMADDR_CID_HOST 2u

#endif
