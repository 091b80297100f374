/* --status: the VM's state, uptime, vCPUs, memory, and what keeps it from its idle stop (sessions, processes
 * sessions left behind in a distribution, or the time left), from the service's status reply. */
#include "verbs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "activity.h"
#include "control.h"
#include "exitcodes.h"
#include "fwd.h"
#include "log.h"
#include "macro.h"
#include "registry.h"
#include "service.h"
#include "wake_client.h"

static void print_duration(uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s >= 3600)
        printf("%lluh %llum %llus\n", (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
               (unsigned long long)(s % 60));
    else if (s >= 60)
        printf("%llum %llus\n", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else
        printf("%.1fs\n", (double)ms / 1000);
}

static long long field(const char *body, const char *key)
{
    int64_t v = 0;
    (void)lsl_ctl_field_i64(body, key, &v);
    return v;
}

/* How long the service's count of processes may be to show it without asking for a new one (its answer to
 * this request asks the guest when the count is older). */
#define FRESH_MS    3000
#define WAIT_FOR_MS 3000 /* for the new count, in steps of STEP_MS */
#define STEP_MS     100

/* One entry of the processes field ("NAME=N[:keep|:never]", proto/control.h) at *p, which is advanced. */
struct proc_item {
    char name[72];
    long long n;
    char keep[8];                         /* "", "keep", "never" */
    char what[LSL_ACTIVITY_WHAT_MAX + 1]; /* "docker.service,containerd.service", "" */
};
/* The next "NAME=N:KEEP:WHAT" of the service's processes line (proto/control.h). */
static bool next_process(const char **p, struct proc_item *it)
{
    while (**p) {
        size_t len = strcspn(*p, " ");
        char item[256];
        snprintf(item, sizeof(item), "%.*s", (int)len, *p);
        *p += len + ((*p)[len] == ' ');
        int at = 0;
        if (sscanf(item, "%71[^=]=%lld%n", it->name, &it->n, &at) < 2)
            continue;
        const char *keep = item + at, *what = *keep == ':' ? strchr(keep + 1, ':') : NULL;
        snprintf(it->keep, sizeof(it->keep), "%.*s", what ? (int)(what - keep - 1) : 0, keep + 1);
        snprintf(it->what, sizeof(it->what), "%s", what ? what + 1 : "");
        return true;
    }
    return false;
}

/* The next name of a what list ("a,b,c"), cut out in place; NULL after the last. The text and the JSON
 * split it alike. */
static char *next_what(char **save, char *what)
{
    return strtok_r(what, ",", save);
}

/* A what list as "a, b, c". */
static void print_what(char *what)
{
    char *save = NULL;
    for (char *w = next_what(&save, what), *first = w; w; w = next_what(&save, NULL))
        printf("%s%s", w == first ? "" : ", ", w);
}

/* "test=1:: debian=0:keep:" as "test 1, debian 0 (keepAlive: keeps the VM up)"; "no distribution runs"
 * when empty. */
static void print_processes(const char *list)
{
    struct proc_item it;
    bool any = false;
    while (next_process(&list, &it)) {
        printf("%s%s %lld%s", any ? ", " : "", it.name, it.n,
               !strcmp(it.keep, "keep")    ? " (keepAlive: keeps the VM up)"
               : !strcmp(it.keep, "never") ? " (keepAlive=false: not counted)"
                                           : "");
        any = true;
    }
    if (!any)
        printf("no distribution runs");
}

/* The idle stop's holders: "sd (nginx.service, sleep), web (keepAlive)". */
static void print_holders(const char *list)
{
    struct proc_item it;
    bool any = false;
    while (next_process(&list, &it)) {
        if (!strcmp(it.keep, "never") || (!it.n && strcmp(it.keep, "keep")))
            continue;
        printf("%s%s (", any ? ", " : "", it.name);
        if (!strcmp(it.keep, "keep"))
            printf("keepAlive");
        else if (it.what[0])
            print_what(it.what);
        else
            printf("%lld process%s: services or what sessions left", it.n, it.n == 1 ? "" : "es");
        printf(")");
        any = true;
    }
}

/* The service's forwards line ("tcp/4/8000/debian/listening ...", proto/control.h), one port a line:
 * protocol, the host address, the distribution and whether the host port could be had. */
static void print_forwards(const char *list)
{
    static const char *const states[][2] = {
        {"listening", "forwarded"},
        {"in-use", "NOT forwarded: the host port is in use"},
        {"denied", "NOT forwarded: the host does not let lsl have the port (below 1024?)"},
        {"error", "NOT forwarded: the host socket failed (see the service log)"},
    };
    bool first = true;
    for (const char *p = list; *p;) {
        char proto[8], distro[72], state[16];
        unsigned family, port;
        size_t len = strcspn(p, " ");
        char item[128];
        snprintf(item, sizeof(item), "%.*s", (int)len, p);
        p += len + (p[len] == ' ');
        for (char *q = item; *q; q++)
            if (*q == '/')
                *q = ' ';
        if (sscanf(item, "%7s %u %u %71s %15s", proto, &family, &port, distro, state) != 5)
            continue;
        const char *what = state;
        for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
            if (!strcmp(state, states[i][0]))
                what = states[i][1];
        printf("%s%s %s%u  %s  %s\n", first ? "Ports:        " : "              ", proto,
               family == 4 ? "127.0.0.1:" : "[::1]:", port, strcmp(distro, "-") ? distro : "(system)", what);
        first = false;
    }
    if (first)
        printf("Ports:        none forwarded\n");
}

/* The next entry of the sockets field (proto/control.h LSL_CTL_KEY_SOCKETS) at *p, its paths decoded.
 * Returns false at the end of the list. */
struct sock_item {
    char host[LSL_FWD_HOST_PATH_MAX + 1], distro[72], guest[LSL_FWD_UNIX_PATH_MAX + 1], state[16];
};
static bool next_socket(const char **p, struct sock_item *it)
{
    while (**p) {
        size_t len = strcspn(*p, " ");
        char *fields[4] = {it->host, it->distro, it->guest, it->state};
        size_t caps[4] = {sizeof(it->host), sizeof(it->distro), sizeof(it->guest), sizeof(it->state)};
        size_t f = 0, o = 0;
        bool ok = true;
        for (size_t i = 0; i < len && ok; i++) {
            char ch = (*p)[i];
            unsigned hex;
            if (ch == '|') {
                fields[f][o] = '\0';
                ok = ++f < 4;
                o = 0;
                continue;
            }
            if (ch == '%' && i + 2 < len && sscanf(*p + i + 1, "%2x", &hex) == 1) {
                ch = (char)hex;
                i += 2;
            }
            ok = o + 1 < caps[f];
            if (ok)
                fields[f][o++] = ch;
        }
        *p += len + ((*p)[len] == ' ');
        if (ok && f == 3) {
            fields[3][o] = '\0';
            return true;
        }
    }
    return false;
}

static void print_sockets(const char *list)
{
    struct sock_item it;
    bool first = true;
    while (next_socket(&list, &it)) {
        const char *what =
            !strcmp(it.state, "listening") ? "forwarded"
            : !strcmp(it.state, "no-guest")
                ? "listening; nothing there in the guest now (its daemon is not installed or not up)"
            : !strcmp(it.state, "checking") ? "forwarded (the guest did not say whether it is there)"
            : !strcmp(it.state, "in-use")   ? "NOT forwarded: a live socket is at the host path"
            : !strcmp(it.state, "stopped")  ? "not while the VM is down"
                                            : "NOT forwarded: see the service log";
        printf("%s%s -> %s%s%s  %s\n", first ? "Sockets:      " : "              ", it.host,
               strcmp(it.distro, "-") ? it.distro : "", strcmp(it.distro, "-") ? ":" : "", it.guest, what);
        first = false;
    }
}

/* Whether a forwarded socket's guest end is still being asked about (its state "checking"). */
static bool sockets_checking(const char *body)
{
    static char list[16384];
    struct sock_item it;
    if (!lsl_ctl_field(body, LSL_CTL_KEY_SOCKETS, list, sizeof(list)))
        return false;
    for (const char *q = list; next_socket(&q, &it);)
        if (!strcmp(it.state, "checking"))
            return true;
    return false;
}

/* Each distribution's disk: its image's size (what the guest sees) and what it takes on the host's disk
 * (sparse: deleted files give the space back through discard). Text lines, or the "disks" array. */
static void disks(const struct lsl_paths *p, json_object *o)
{
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    if (lsl_registry_open(&reg, p->state, LSL_REGISTRY_READ) < 0)
        return;
    json_object *arr = o ? json_object_new_array() : NULL;
    for (size_t i = 0; i < reg.n; i++) {
        struct stat st;
        if (stat(reg.distros[i].image, &st) < 0)
            continue;
        uint64_t used = (uint64_t)st.st_blocks * 512, size = (uint64_t)st.st_size;
        if (arr) {
            json_object *d = json_object_new_object();
            json_object_object_add(d, "distribution", json_object_new_string(reg.distros[i].name));
            json_object_object_add(d, "size_bytes", json_object_new_int64((int64_t)size));
            json_object_object_add(d, "allocated_bytes", json_object_new_int64((int64_t)used));
            json_object_array_add(arr, d);
        } else {
            printf("%s%s %.1f GiB on the host's disk of %.0f GiB\n",
                   i ? "              " : "Disks:        ", reg.distros[i].name, (double)used / (1 << 30),
                   (double)size / (1 << 30));
        }
    }
    if (arr)
        json_object_object_add(o, "disks", arr);
}

/* --status --json: the same reply as one object, numbers as numbers, lists as arrays and objects. */
static void json_num(json_object *o, const char *body, const char *key, const char *name)
{
    int64_t v;
    if (lsl_ctl_field_i64(body, key, &v))
        json_object_object_add(o, name, json_object_new_int64(v));
}

/* waiting: while the VM is down, the host paths lsl-wake holds (one per line), NULL if none waits. */
static int print_json(const struct lsl_paths *p, const char *body, const char *state, char *waiting)
{
    static char text[16384];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "state", json_object_new_string(state));
    disks(p, o);
    if (waiting) {
        json_object *arr = json_object_new_array();
        for (char *save = NULL, *w = strtok_r(waiting, "\n", &save); w; w = strtok_r(NULL, "\n", &save)) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "host_path", json_object_new_string(w));
            json_object_object_add(e, "state", json_object_new_string("waiting"));
            json_object_array_add(arr, e);
        }
        json_object_object_add(o, "sockets", arr);
    }
    if (body) {
        static const char *const keys[][2] = {
            {LSL_CTL_KEY_UPTIME_MS, "uptime_ms"},
            {LSL_CTL_KEY_VCPUS, "vcpus"},
            {LSL_CTL_KEY_MEMORY, "memory_bytes"},
            {LSL_CTL_KEY_HOST_RSS, "host_rss_bytes"},
            {LSL_CTL_KEY_GUEST_TOTAL, "guest_total_bytes"},
            {LSL_CTL_KEY_GUEST_AVAILABLE, "guest_available_bytes"},
            {LSL_CTL_KEY_GUEST_FREE, "guest_free_bytes"},
            {LSL_CTL_KEY_GUEST_CACHE, "guest_cache_bytes"},
            {LSL_CTL_KEY_GIVEN_BACK, "given_back_bytes"},
            {LSL_CTL_KEY_BALLOON_HELD, "balloon_bytes"},
            {LSL_CTL_KEY_BALLOON_TARGET, "balloon_target_bytes"},
            {LSL_CTL_KEY_CPU_MS, "host_cpu_ms"},
            {LSL_CTL_KEY_SESSIONS, "sessions"},
            {LSL_CTL_KEY_IDLE_TIMEOUT_S, "idle_timeout_s"},
            {LSL_CTL_KEY_IDLE_STOP_IN, "idle_stop_in_ms"},
            {LSL_CTL_KEY_PID, "service_pid"},
            {LSL_CTL_KEY_INTEROP, "interop_commands"},
        };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            json_num(o, body, keys[i][0], keys[i][1]);
        if (lsl_ctl_field(body, LSL_CTL_KEY_IDLE_REASON, text, sizeof(text)))
            json_object_object_add(o, "idle_reason", json_object_new_string(text));
        if (lsl_ctl_field(body, LSL_CTL_KEY_BALLOON_WHY, text, sizeof(text)))
            json_object_object_add(o, "balloon_reason", json_object_new_string(text));
        if (lsl_ctl_field(body, LSL_CTL_KEY_PROCESSES, text, sizeof(text))) {
            /* Per distribution, the processes left running in it; its keepAlive when set. */
            json_object *procs = json_object_new_object(), *keep = json_object_new_object(),
                        *running = json_object_new_object();
            struct proc_item it;
            for (const char *q = text; next_process(&q, &it);) {
                json_object_object_add(procs, it.name, json_object_new_int64(it.n));
                if (it.keep[0])
                    json_object_object_add(keep, it.name, json_object_new_boolean(!strcmp(it.keep, "keep")));
                json_object *names = json_object_new_array();
                for (char *save = NULL, *w = next_what(&save, it.what); w; w = next_what(&save, NULL))
                    json_object_array_add(names, json_object_new_string(w));
                json_object_object_add(running, it.name, names);
            }
            json_object_object_add(o, "processes", procs);
            json_object_object_add(o, "keep_alive", keep);
            json_object_object_add(o, "running", running);
        }
        if (lsl_ctl_field(body, LSL_CTL_KEY_FORWARDS, text, sizeof(text))) {
            /* "PROTO/FAMILY/PORT/DISTRO/STATE ..." */
            json_object *fw = json_object_new_array();
            for (char *tok = strtok(text, " "); tok; tok = strtok(NULL, " ")) {
                char proto[8], distro[72], st[16];
                unsigned family, port;
                for (char *q = tok; *q; q++)
                    if (*q == '/')
                        *q = ' ';
                if (sscanf(tok, "%7s %u %u %71s %15s", proto, &family, &port, distro, st) != 5)
                    continue;
                json_object *f = json_object_new_object();
                json_object_object_add(f, "protocol", json_object_new_string(proto));
                json_object_object_add(f, "address",
                                       json_object_new_string(family == 4 ? "127.0.0.1" : "::1"));
                json_object_object_add(f, "port", json_object_new_int(port));
                json_object_object_add(f, "distribution",
                                       strcmp(distro, "-") ? json_object_new_string(distro) : NULL);
                json_object_object_add(f, "state", json_object_new_string(st));
                json_object_array_add(fw, f);
            }
            json_object_object_add(o, "forwards", fw);
        }
        if (lsl_ctl_field(body, LSL_CTL_KEY_SOCKETS, text, sizeof(text))) {
            json_object *arr = json_object_new_array();
            struct sock_item it;
            for (const char *q = text; next_socket(&q, &it);) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "host_path", json_object_new_string(it.host));
                json_object_object_add(e, "distribution",
                                       strcmp(it.distro, "-") ? json_object_new_string(it.distro) : NULL);
                json_object_object_add(e, "guest_path", json_object_new_string(it.guest));
                json_object_object_add(e, "state", json_object_new_string(it.state));
                json_object_array_add(arr, e);
            }
            json_object_object_add(o, "sockets", arr);
        }
    }
    printf("%s\n",
           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return 0;
}

int lsl_verb_status(const struct lsl_paths *p, struct lsl_args *a)
{
    static char forwards[16384];
    char buf[32768], state[32] = "unknown", reason[32] = "", processes[8192] = "";
    const char *body;
    int r = lsl_service_status(p, buf, sizeof(buf), &body);
    /* The first answer asked the guest for a fresh count if the service's was old: wait for it a moment. */
    for (int waited = 0; r == 0 && waited < WAIT_FOR_MS; waited += STEP_MS) {
        int64_t age = -1;
        if (lsl_ctl_field(body, LSL_CTL_KEY_STATE, state, sizeof(state)) && strcmp(state, "running") != 0)
            break;
        if (!lsl_ctl_field_i64(body, LSL_CTL_KEY_PROCESSES_AGE, &age) && !waited)
            break; /* an older service: it has no count */
        /* The guest's memory numbers likewise; a guest that never sends them (no balloon driver) gets
         * half a second. */
        int64_t mem_age = -1;
        bool has_mem = lsl_ctl_field_i64(body, LSL_CTL_KEY_GUEST_AGE, &mem_age);
        bool mem_fresh = !has_mem || (mem_age >= 0 && mem_age < FRESH_MS) || (mem_age < 0 && waited >= 500);
        /* And the forwarded sockets' guest ends, asked by that answer. */
        if (age >= 0 && age < FRESH_MS && mem_fresh && !sockets_checking(body))
            break;
        struct timespec ts = {.tv_nsec = STEP_MS * 1000000L};
        nanosleep(&ts, NULL);
        r = lsl_service_status(p, buf, sizeof(buf), &body);
    }
    if (r == -EPROTO) {
        log_error("the VM service answers in another lsl version's words: lsl --shutdown --force stops it");
        return LSL_EXIT_FAILURE;
    }
    if (r < 0) {
        /* After an idle stop lsl-wake holds the forwarded sockets: a client of one starts the VM. */
        char waiting[4096] = "";
        bool wake = lsl_wake_list(p, waiting, sizeof(waiting)) == 1;
        if (a->json)
            return print_json(p, NULL, "stopped", wake ? waiting : NULL);
        printf("State:        stopped\n");
        disks(p, NULL);
        bool first = true;
        for (char *save = NULL, *w = wake ? strtok_r(waiting, "\n", &save) : NULL; w;
             w = strtok_r(NULL, "\n", &save), first = false)
            printf("%s%s  waiting: a client starts the VM\n", first ? "Sockets:      " : "              ", w);
        return 0;
    }
    if (field(body, LSL_CTL_KEY_VERSION) != LSL_CONTROL_VERSION)
        log_warn("the VM service is from another lsl version (lsl --shutdown restarts it)");
    lsl_ctl_field(body, LSL_CTL_KEY_STATE, state, sizeof(state));
    if (a->json)
        return print_json(p, body, state, NULL);
    printf("State:        %s\n", state);
    printf("Uptime:       ");
    print_duration((uint64_t)field(body, LSL_CTL_KEY_UPTIME_MS));
    printf("vCPUs:        %lld\n", field(body, LSL_CTL_KEY_VCPUS));
    printf("Memory:       %lld MiB guest, %lld MiB resident on the host\n",
           field(body, LSL_CTL_KEY_MEMORY) >> 20, field(body, LSL_CTL_KEY_HOST_RSS) >> 20);
    if (lsl_ctl_field(body, LSL_CTL_KEY_GUEST_TOTAL, NULL, 0)) {
        long long total = field(body, LSL_CTL_KEY_GUEST_TOTAL),
                  avail = field(body, LSL_CTL_KEY_GUEST_AVAILABLE);
        printf("In the guest: %lld MiB used, %lld MiB cache, %lld MiB free of %lld MiB\n",
               (total - avail) >> 20, field(body, LSL_CTL_KEY_GUEST_CACHE) >> 20,
               field(body, LSL_CTL_KEY_GUEST_FREE) >> 20, total >> 20);
    }
    if (lsl_ctl_field(body, LSL_CTL_KEY_GIVEN_BACK, NULL, 0))
        printf("Given back:   %lld MiB to the host so far (memory the guest freed)\n",
               field(body, LSL_CTL_KEY_GIVEN_BACK) >> 20);
    /* The balloon only when it holds or is asked for something: the host ran short, or a balloon request. */
    char why[16] = "";
    if (lsl_ctl_field(body, LSL_CTL_KEY_BALLOON_WHY, why, sizeof(why)) &&
        (strcmp(why, "none") || field(body, LSL_CTL_KEY_BALLOON_HELD)))
        printf("Balloon:      %lld MiB taken from the guest, %lld MiB asked (%s)\n",
               field(body, LSL_CTL_KEY_BALLOON_HELD) >> 20, field(body, LSL_CTL_KEY_BALLOON_TARGET) >> 20,
               !strcmp(why, "pressure")  ? "the host is short of memory"
               : !strcmp(why, "request") ? "a balloon request"
               : !strcmp(why, "sweep")   ? "memory the guest freed, on its way back"
                                         : "being given back");
    if (lsl_ctl_field(body, LSL_CTL_KEY_CPU_MS, NULL, 0))
        printf("Host CPU:     %.1fs\n", (double)field(body, LSL_CTL_KEY_CPU_MS) / 1000);
    printf("Sessions:     %lld\n", field(body, LSL_CTL_KEY_SESSIONS));
    /* Processes that sessions left behind (setsid -f, cmd &) keep the VM up as sessions do. */
    long long age =
        lsl_ctl_field(body, LSL_CTL_KEY_PROCESSES_AGE, NULL, 0) ? field(body, LSL_CTL_KEY_PROCESSES_AGE) : -1;
    if (age >= 0 && lsl_ctl_field(body, LSL_CTL_KEY_PROCESSES, processes, sizeof(processes))) {
        printf("Processes:    ");
        print_processes(processes);
        if (age >= FRESH_MS)
            printf(" (%llds ago)", age / 1000);
        printf("\n");
    }
    disks(p, NULL);
    if (lsl_ctl_field(body, LSL_CTL_KEY_FORWARDS, forwards, sizeof(forwards)))
        print_forwards(forwards);
    if (lsl_ctl_field(body, LSL_CTL_KEY_SOCKETS, forwards, sizeof(forwards)))
        print_sockets(forwards);
    /* Interop and the host shares are the two ways the guest acts with the user's rights: say which is on. */
    if (lsl_ctl_field(body, LSL_CTL_KEY_INTEROP, NULL, 0)) {
        long long n = field(body, LSL_CTL_KEY_INTEROP);
        if (n < 0)
            printf("Interop:      off (isolated=true: no host commands from the guest)\n");
        else
            printf("Interop:      on (lsl-host; %lld host command%s run so far)\n", n, n == 1 ? "" : "s");
    }
    long long idle = field(body, LSL_CTL_KEY_IDLE_TIMEOUT_S);
    if (idle < 0)
        printf("Idle timeout: never\n");
    else
        printf("Idle timeout: %llds\n", idle);
    lsl_ctl_field(body, LSL_CTL_KEY_IDLE_REASON, reason, sizeof(reason));
    if (!strcmp(reason, "sessions") && field(body, LSL_CTL_KEY_SESSIONS) == 0)
        printf("Idle stop:    not while a host client uses a forwarded socket\n");
    else if (!strcmp(reason, "sessions"))
        printf("Idle stop:    not while sessions are open\n");
    else if (!strcmp(reason, "processes")) {
        printf("Idle stop:    not while these run: ");
        print_holders(processes);
        printf("\n");
    } else if (!strcmp(reason, "idle") && strcmp(state, "running") == 0)
        printf("Idle stop:    in %.1fs\n", (double)field(body, LSL_CTL_KEY_IDLE_STOP_IN) / 1000);
    printf("Service PID:  %lld\n", field(body, LSL_CTL_KEY_PID));
    return 0;
}
