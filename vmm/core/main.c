/* lsl-vmm: boot a Linux guest on KVM and exit with its command's status. */
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "log.h"
#include "../service/service.h"
#include "options.h"
#include "vm.h"

#ifndef LSL_VERSION
#define LSL_VERSION "dev"
#endif

int main(int argc, char **argv)
{
    struct vmm_options opts;
    char err[256];
    log_init("lsl-vmm");
    if (vmm_options_parse(argc, argv, &opts, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return LSL_VMM_EXIT_ERROR;
    }
    if (opts.log_level >= 0)
        log_set_level((enum log_level)opts.log_level);
    if (opts.help) {
        vmm_options_usage(stdout);
        return 0;
    }
    if (opts.version) {
        printf("lsl-vmm %s\n", LSL_VERSION);
        return 0;
    }
    static struct vm vm;
    int code;
    /* The service is built on top of the VM; the VM knows nothing of it. */
    if (vm_create(&vm, &opts) < 0 || (opts.service && service_create(&vm, &opts) < 0)) {
        code = LSL_VMM_EXIT_ERROR;
    } else {
        vm_run(&vm);
        code = vm_exit_code(&vm);
        if (vm.stop_reason == VM_STOP_ERROR)
            log_error("%s", vm.stop_message[0] ? vm.stop_message : "the VM failed");
        else if (code == LSL_VMM_EXIT_PANIC)
            log_error("guest kernel panic: %s", vm.panic_message[0] ? vm.panic_message : "(no message)");
        else if (vm.stop_reason == VM_STOP_SIGNAL)
            log_error("%s", vm.stop_message);
        if (opts.stats)
            vm_print_stats(&vm);
    }
    vm_destroy(&vm);
    return code;
}
