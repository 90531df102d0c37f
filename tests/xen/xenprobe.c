/* xenprobe: what libxenctrl / libxenforeignmemory 4.17 give dom0 about a domU, checked
 * against the domU's own records. A probe for the coming Xen backend, not part of lib/.
 *
 * Usage: xenprobe DOMID [KALLSYMS [VERSION_FILE]]
 *   KALLSYMS      the domU's /proc/kallsyms (for linux_banner's virtual address); "-": none
 *   VERSION_FILE  the domU's /proc/version (one line): the banner that must be found
 *
 * Prints "key=value" lines (and a few "# ..." notes); exits 0 only if every check held:
 *  - domain info, guest width, max gpfn, vCPU 0 registers (PV: xc_vcpu_getcontext;
 *    HVM: the CPU record of the HVM context);
 *  - PV: the shared_info page (mapped by its frame from getinfo), its p2m anchors, the
 *    whole p2m read through pfn_to_mfn_frame_list_list (3-level tree of MFN pages);
 *  - a scan of all guest memory, page by page (PV: pfn -> p2m -> mfn -> map; HVM: map
 *    the pfn), for "Linux version " and the banner;
 *  - whether a PV pfn can be mapped as if it were the frame number (it cannot in general:
 *    for PV, the frame numbers xenforeignmemory_map takes are MFNs);
 *  - linux_banner's virtual address walked through the 4-level page tables from CR3 by
 *    this program and by xc_translate_foreign_address, read and compared;
 *  - the m2p table (xc_map_m2p) mapping the found MFN back to its pfn.
 * The domain is paused while it is read and always unpaused again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenguest.h>
#include <xen/hvm/save.h>

#define PAGE 4096UL
#define BATCH 512
#define INVALID_P2M (~0UL)

static xc_interface *xch;
static xenforeignmemory_handle *fmem;
static uint32_t domid;
static int paused, failures;

static void check(int ok, const char *what)
{
    printf("check %s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok)
        failures++;
}

static void unpause(void)
{
    if (paused && xc_domain_unpause(xch, domid) == 0)
        paused = 0;
}

static void on_signal(int sig)
{
    unpause();
    signal(sig, SIG_DFL);
    raise(sig);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Copy one page of frame `frame` (an MFN for PV, a gpfn for HVM) into buf; 0 or errno. */
static int read_frame(xen_pfn_t frame, void *buf)
{
    int err = 0;
    void *p = xenforeignmemory_map(fmem, domid, PROT_READ, 1, &frame, &err);
    if (!p)
        return errno ? errno : EINVAL;
    if (err == 0)
        memcpy(buf, p, PAGE);
    xenforeignmemory_unmap(fmem, p, 1);
    return err;
}

/* Walk 4-level page tables from root frame `root`: entries hold frame numbers of the
 * same kind as the root (MFNs for PV, gpfns for HVM). Returns the frame of `va` and sets
 * *offset, or INVALID_P2M. */
static unsigned long walk4(unsigned long root, uint64_t va, unsigned long *offset)
{
    static uint64_t table[PAGE / 8];
    unsigned long frame = root;
    for (int level = 4; level >= 1; level--) {
        unsigned idx = (va >> (12 + 9 * (level - 1))) & 511;
        if (read_frame(frame, table) != 0)
            return INVALID_P2M;
        uint64_t e = table[idx];
        if (!(e & 1))
            return INVALID_P2M;
        uint64_t addr = e & 0x000ffffffffff000ULL;
        if ((level == 3 || level == 2) && (e & 0x80)) {      /* 1 GiB / 2 MiB page */
            uint64_t size = 1ULL << (12 + 9 * (level - 1));
            uint64_t pa = (addr & ~(size - 1)) | (va & (size - 1));
            *offset = pa & (PAGE - 1);
            return pa >> 12;
        }
        frame = addr >> 12;
    }
    *offset = va & (PAGE - 1);
    return frame;
}

static int read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, size, f)) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static uint64_t lookup_symbol(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    char line[512], sym[256], type;
    unsigned long long addr;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && strcmp(sym, name) == 0) {
            fclose(f);
            return addr;
        }
    fclose(f);
    return 0;
}

/* The PV p2m, read through the frame-list-list tree: p2m[pfn] = mfn, max_pfn entries. */
static unsigned long *read_pv_p2m(unsigned long fll_mfn, unsigned long max_pfn)
{
    static unsigned long fll[PAGE / 8], fl[PAGE / 8];
    const unsigned long per = PAGE / 8;           /* entries per page, 64-bit guest */
    unsigned long *p2m = calloc(max_pfn + per, sizeof *p2m);
    if (!p2m || read_frame(fll_mfn, fll) != 0)
        return NULL;
    unsigned long leaves = (max_pfn + per - 1) / per;
    for (unsigned long i = 0; i < leaves; i++) {
        if (i % per == 0 && read_frame(fll[i / per], fl) != 0)
            return NULL;
        if (read_frame(fl[i % per], p2m + i * per) != 0)
            return NULL;
    }
    return p2m;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: xenprobe DOMID [KALLSYMS [VERSION_FILE]]\n");
        return 2;
    }
    domid = strtoul(argv[1], NULL, 0);
    const char *kallsyms = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    char expected[512] = "";
    if (argc > 3 && read_line(argv[3], expected, sizeof expected) != 0) {
        fprintf(stderr, "xenprobe: cannot read %s\n", argv[3]);
        return 2;
    }

    xch = xc_interface_open(NULL, NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    if (!xch || !fmem) {
        fprintf(stderr, "xenprobe: cannot open libxenctrl / libxenforeignmemory: %s\n", strerror(errno));
        return 1;
    }

    /* --- what Xen says about the domain --- */
    xc_dominfo_t info;
    if (xc_domain_getinfo(xch, domid, 1, &info) != 1 || info.domid != domid) {
        fprintf(stderr, "xenprobe: no domain %u\n", domid);
        return 1;
    }
    unsigned int width = 0;
    xen_pfn_t max_gpfn = 0, nr_gpfns = 0;
    int rc_width = xc_domain_get_guest_width(xch, domid, &width);
    int rc_max = xc_domain_maximum_gpfn(xch, domid, &max_gpfn);
    int rc_nr = xc_domain_nr_gpfns(xch, domid, &nr_gpfns);
    printf("domid=%u\nhvm=%u\nhap=%u\npaused=%u\nnr_pages=%lu\nmax_memkb=%lu\n"
           "shared_info_frame=%#lx\nnr_online_vcpus=%u\nmax_vcpu_id=%u\ngpaddr_bits=%u\n",
           info.domid, info.hvm, info.hap, info.paused, info.nr_pages, info.max_memkb,
           info.shared_info_frame, info.nr_online_vcpus, info.max_vcpu_id, info.gpaddr_bits);
    printf("guest_width=%u (rc %d)\nmaximum_gpfn=%#lx (rc %d)\nnr_gpfns=%#lx (rc %d)\n",
           width, rc_width, (unsigned long)max_gpfn, rc_max, (unsigned long)nr_gpfns, rc_nr);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(unpause);
    if (!info.paused) {
        check(xc_domain_pause(xch, domid) == 0, "xc_domain_pause");
        paused = 1;
    }

    /* --- vCPU 0 registers --- */
    unsigned long root = 0;          /* frame of the top-level page table */
    if (!info.hvm) {
        vcpu_guest_context_any_t ctx;
        if (xc_vcpu_getcontext(xch, domid, 0, &ctx) != 0) {
            check(0, "xc_vcpu_getcontext");
            return 1;
        }
        const vcpu_guest_context_x86_64_t *c = &ctx.x64;
        printf("vcpu0.flags=%#lx (in_kernel=%lu online=%lu)\n", (unsigned long)c->flags,
               (unsigned long)(c->flags & VGCF_in_kernel) >> 2, (unsigned long)(c->flags & VGCF_online) >> 5);
        for (int i = 0; i < 5; i++)
            printf("vcpu0.ctrlreg[%d]=%#lx\n", i, (unsigned long)c->ctrlreg[i]);
        printf("vcpu0.rip=%#lx\nvcpu0.rsp=%#lx\nvcpu0.rflags=%#lx\nvcpu0.cs=%#x\n"
               "vcpu0.kernel_sp=%#lx\nvcpu0.fs_base=%#lx\nvcpu0.gs_base_kernel=%#lx\n"
               "vcpu0.gs_base_user=%#lx\n",
               (unsigned long)c->user_regs.rip, (unsigned long)c->user_regs.rsp,
               (unsigned long)c->user_regs.rflags, c->user_regs.cs, (unsigned long)c->kernel_sp,
               (unsigned long)c->fs_base, (unsigned long)c->gs_base_kernel, (unsigned long)c->gs_base_user);
        root = xen_cr3_to_pfn_x86_64(c->ctrlreg[3]);
        printf("cr3_mfn=%#lx\nuser_pt_mfn=%#lx\n", root, (unsigned long)xen_cr3_to_pfn_x86_64(c->ctrlreg[1]));
    } else {
        struct hvm_hw_cpu cpu;
        if (xc_domain_hvm_getcontext_partial(xch, domid, HVM_SAVE_CODE(CPU), 0, &cpu, sizeof cpu) != 0) {
            check(0, "xc_domain_hvm_getcontext_partial(CPU)");
            return 1;
        }
        printf("vcpu0.cr0=%#" PRIx64 "\nvcpu0.cr3=%#" PRIx64 "\nvcpu0.cr4=%#" PRIx64 "\nvcpu0.efer=%#" PRIx64
               "\nvcpu0.rip=%#" PRIx64 "\nvcpu0.rsp=%#" PRIx64 "\n",
               cpu.cr0, cpu.cr3, cpu.cr4, cpu.msr_efer, cpu.rip, cpu.rsp);
        root = cpu.cr3 >> 12;
    }

    /* --- PV: shared_info and the p2m --- */
    unsigned long frames = 0, *p2m = NULL;       /* pages to scan; pfn -> frame */
    if (!info.hvm) {
        /* For PV, shared_info_frame is an MFN, mapped like any other frame. */
        static _Alignas(8) char si_page[PAGE];   /* shared_info is smaller than the page */
        const shared_info_any_t *si = (const shared_info_any_t *)si_page;
        _Static_assert(sizeof(shared_info_any_t) <= PAGE, "shared_info fits a page");
        if (read_frame(info.shared_info_frame, si_page) != 0) {
            check(0, "map shared_info");
            return 1;
        }
        unsigned long max_pfn = si->x64.arch.max_pfn;
        unsigned long fll = si->x64.arch.pfn_to_mfn_frame_list_list;
        printf("shared_info.max_pfn=%#lx\nshared_info.pfn_to_mfn_frame_list_list=%#lx\n"
               "shared_info.p2m_cr3=%#lx\nshared_info.p2m_vaddr=%#lx\nshared_info.p2m_generation=%lu\n",
               max_pfn, fll, (unsigned long)si->x64.arch.p2m_cr3,
               (unsigned long)si->x64.arch.p2m_vaddr, (unsigned long)si->x64.arch.p2m_generation);
        unsigned long p2m_cr3 = si->x64.arch.p2m_cr3, p2m_vaddr = si->x64.arch.p2m_vaddr;
        double t = now();
        p2m = read_pv_p2m(fll, max_pfn);
        check(p2m != NULL, "p2m read through pfn_to_mfn_frame_list_list");
        if (!p2m)
            return 1;
        unsigned long valid = 0;
        for (unsigned long i = 0; i < max_pfn; i++)
            if (p2m[i] != INVALID_P2M)
                valid++;
        printf("p2m.entries=%lu\np2m.valid=%lu\np2m.read_seconds=%.3f\n", max_pfn, valid, now() - t);
        printf("p2m[0..3]=%#lx %#lx %#lx %#lx\n", p2m[0], p2m[1], p2m[2], p2m[3]);
        check(valid <= info.nr_pages + 16 && valid + 1024 >= info.nr_pages,
              "p2m valid entries ~ nr_pages");
        /* The linear p2m list the guest also publishes: entry i at p2m_vaddr + 8 i in the
         * address space of p2m_cr3. Compare a few entries with the tree. */
        if (p2m_cr3 && p2m_vaddr) {
            int same = 1;
            static unsigned long page[PAGE / 8];
            for (unsigned long i = 0; i < max_pfn; i += max_pfn / 7 + 1) {
                unsigned long off, f = walk4(xen_cr3_to_pfn_x86_64(p2m_cr3), p2m_vaddr + 8 * i, &off);
                if (f == INVALID_P2M || read_frame(f, page) != 0 || page[off / 8] != p2m[i]) {
                    printf("# linear p2m entry %lu differs or is unreadable\n", i);
                    same = 0;
                }
            }
            check(same, "linear p2m (p2m_cr3/p2m_vaddr) agrees with the frame-list tree");
        }
        frames = max_pfn;
    } else {
        frames = max_gpfn + 1;
    }

    /* --- scan all of guest memory for the banner --- */
    static char buf[BATCH * PAGE];
    long found_pfn = -1, first_pfn = -1;
    unsigned long found_frame = 0, found_off = 0, mapped = 0, unmappable = 0;
    char banner[512] = "";
    double t = now();
    for (unsigned long base = 0; base < frames && found_pfn < 0; base += BATCH) {
        unsigned long n = frames - base < BATCH ? frames - base : BATCH;
        xen_pfn_t arr[BATCH];
        int err[BATCH];
        for (unsigned long i = 0; i < n; i++)
            arr[i] = p2m ? (p2m[base + i] == INVALID_P2M ? 0 : p2m[base + i]) : base + i;
        char *p = xenforeignmemory_map(fmem, domid, PROT_READ, n, arr, err);
        if (!p) {
            unmappable += n;
            continue;
        }
        for (unsigned long i = 0; i < n; i++) {
            if (err[i] != 0 || (p2m && p2m[base + i] == INVALID_P2M)) {
                unmappable++;
                memset(buf + i * PAGE, 0, PAGE);
            } else {
                mapped++;
                memcpy(buf + i * PAGE, p + i * PAGE, PAGE);
            }
        }
        xenforeignmemory_unmap(fmem, p, n);
        /* Search the batch (+ not across its end: the banner is not split in practice,
         * and a missed one is reported as a failure, not hidden). */
        for (char *s = buf; (s = memmem(s, buf + n * PAGE - s, "Linux version ", 14)); s++) {
            size_t len = strnlen(s, buf + n * PAGE - s);
            if (first_pfn < 0)
                first_pfn = base + (s - buf) / PAGE;
            if (!expected[0] || (len >= strlen(expected) && strncmp(s, expected, strlen(expected)) == 0)) {
                found_pfn = base + (s - buf) / PAGE;
                found_off = (s - buf) % PAGE;
                found_frame = arr[found_pfn - base];
                snprintf(banner, sizeof banner, "%.*s", (int)strcspn(s, "\n"), s);
                break;
            }
        }
    }
    printf("scan.seconds=%.3f\nscan.pages_mapped=%lu\nscan.pages_unmappable=%lu\n", now() - t, mapped, unmappable);
    printf("scan.first_linux_version_pfn=%#lx\n", (unsigned long)first_pfn);
    if (found_pfn >= 0)
        printf("banner.pfn=%#lx\nbanner.frame=%#lx\nbanner.offset=%#lx\nbanner=%s\n",
               (unsigned long)found_pfn, found_frame, found_off, banner);
    check(found_pfn >= 0, expected[0] ? "the domU's /proc/version found in its memory"
                                      : "a 'Linux version ' string found in its memory");

    /* --- PV: is a pfn usable as the frame number to map? --- */
    if (!info.hvm && found_pfn >= 0) {
        static char page[PAGE];
        int err = read_frame(found_pfn, page);
        int same = err == 0 && strncmp(page + found_off, banner, strlen(banner)) == 0;
        /* Per-page errors come back as negative errno values (privcmd's MMAPBATCH_V2). */
        printf("pv.map_pfn_as_frame: frame %#lx -> err %d (%s), banner there: %s\n", (unsigned long)found_pfn,
               err, err ? strerror(err < 0 ? -err : err) : "mapped", same ? "yes" : "no");
        printf("# for PV, xenforeignmemory_map takes MFNs; pfn %#lx is mfn %#lx\n",
               (unsigned long)found_pfn, found_frame);
    }

    /* --- linux_banner through the page tables --- */
    uint64_t va = kallsyms ? lookup_symbol(kallsyms, "linux_banner") : 0;
    if (kallsyms) {
        check(va != 0, "linux_banner in kallsyms");
        unsigned long off = 0, f = va ? walk4(root, va, &off) : INVALID_P2M;
        unsigned long xc = va ? xc_translate_foreign_address(xch, domid, 0, va) : 0;
        printf("linux_banner.va=%#" PRIx64 "\nlinux_banner.walk_frame=%#lx\nlinux_banner.walk_offset=%#lx\n"
               "linux_banner.xc_translate_foreign_address=%#lx\n", va, f, off, xc);
        check(f != INVALID_P2M && f == xc, "own 4-level walk from CR3 == xc_translate_foreign_address");
        static char page[PAGE];
        if (f != INVALID_P2M && read_frame(f, page) == 0) {
            printf("linux_banner.text=%.*s\n", (int)strcspn(page + off, "\n"), page + off);
            check(banner[0] && strncmp(page + off, banner, strlen(banner)) == 0,
                  "linux_banner read through the page tables == the banner the scan found");
        } else {
            check(0, "read linux_banner's frame");
        }
        if (!info.hvm && p2m && f != INVALID_P2M) {
            /* Reverse: the m2p says which pfn this MFN backs. */
            unsigned long mfn0 = 0, max_mfn = 0;
            xen_pfn_t *m2p = NULL;
            if (xc_maximum_ram_page(xch, &max_mfn) == 0)
                m2p = xc_map_m2p(xch, max_mfn + 1, PROT_READ, &mfn0);
            if (m2p) {
                unsigned long pfn = m2p[f];
                printf("m2p.max_mfn=%#lx\nm2p[walk_frame]=%#lx\np2m[m2p[walk_frame]]=%#lx\n", max_mfn, pfn,
                       pfn < frames ? p2m[pfn] : INVALID_P2M);
                check(pfn < frames && p2m[pfn] == f, "m2p and p2m are inverse for linux_banner's frame");
            } else {
                check(0, "xc_map_m2p");
            }
        }
    }

    unpause();
    check(!paused, "xc_domain_unpause");
    printf("failures=%d\n", failures);
    xenforeignmemory_close(fmem);
    xc_interface_close(xch);
    return failures ? 1 : 0;
}
