#include "vmi/SessionOptions.hpp"

namespace vmi {

void add_session_options(CLI::App& app, SessionOptions& options)
{
    app.add_option("VM", options.vm, "The guest: a config entry's name, or a running libvirt domain's");
    app.add_option("-c,--config", options.config_path,
                   "Config file (default: $VMI_CONFIG, ./libvmi.conf, ~/etc/libvmi.conf, /etc/libvmi.conf, "
                   "~/.config/vmitools/vmi.conf, /etc/vmitools/vmi.conf)");
    app.add_option("--image", options.image, "Memory dump to read (ELF core or raw), instead of a config entry's image");
    app.add_option("--sysmap", options.sysmap, "System.map or copy of the guest's /proc/kallsyms");
    app.add_option("--btf", options.btf,
                   "Kernel BTF for structure offsets: a vmlinux, a vmlinuz/bzImage, or a copy of /sys/kernel/btf/vmlinux");
    app.add_option("--backend", options.backend,
                   "Guest source: kvm (a libvirt domain, named by VM), qmp (--qmp) or file (--image)");
    app.add_option("--uri", options.uri, "libvirt connection URI for --backend kvm (default qemu:///system)");
    app.add_option("--qmp", options.qmp, "QMP socket of a running QEMU (-qmp unix:PATH,server,nowait): read it live");
    app.add_option("--access", options.access,
                   "How to reach a live guest's RAM: auto (default), memfd, process (process_vm_readv) or monitor");
    app.add_option("--pagemode", options.pagemode, "Paging mode when the source has no registers: legacy, pae, ia32e, la57");
    app.add_option("--format", options.format_text, "Output format: text, json or jsonl")->default_str("text");
    app.add_flag("-v,--verbose", options.verbose, "Say on stderr what was found and how");
}

} // namespace vmi
