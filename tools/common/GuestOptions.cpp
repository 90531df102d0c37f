#include "common/GuestOptions.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {

void add_guest_options(CLI::App& app, GuestOptions& options)
{
    app.add_option(
        "VM", options.vm,
        "The guest: a config entry's name, a Proxmox VM's name or vmid, or a running libvirt domain's (a Xen "
        "domain's with --backend xen)");
    app.add_option("-c,--config", options.config_path,
                   "Config file (default: $VMI_CONFIG, ./libvmi.conf, ~/etc/libvmi.conf, /etc/libvmi.conf, "
                   "~/.config/vmitools/vmi.conf, /etc/vmitools/vmi.conf)");
    app.add_option("--image", options.image,
                   "Memory dump to read (ELF core or raw), instead of a config entry's image");
    app.add_option("--sysmap", options.sysmap,
                   "System.map or copy of the guest's /proc/kallsyms (default: the kernel's own kallsyms tables, "
                   "found in guest memory)");
    app.add_option(
        "--btf", options.btf,
        "Kernel BTF for structure offsets: a vmlinux, a vmlinuz/bzImage, or a copy of /sys/kernel/btf/vmlinux "
        "(default: the kernel's .BTF in guest memory, else an installed profile)");
    app.add_option(
        "--backend", options.backend,
        "Guest source: kvm (a libvirt domain, named by VM), kubevirt (a KubeVirt VM, named NAMESPACE/NAME), "
        "proxmox (a Proxmox VM, named by VM: its name "
        "or vmid), qemu (a QEMU no manager owns, by --qemu-pid), xen (a Xen domain, named by VM or --domid), qmp "
        "(--qmp) or file (--image)");
    app.add_option("--domid", options.domid, "A Xen domain by its id (implies --backend xen)");
    app.add_option("--qemu-pid", options.qemu_pid,
                   "A running QEMU that no manager owns, by its process id: read through the QMP socket its command "
                   "line names, or with none from its command line and /proc/PID/maps, paused by SIGSTOP (implies "
                   "--backend qemu)")
        ->type_name("PID");
    app.add_option("--uri", options.uri, "libvirt connection URI for --backend kvm (default qemu:///system)");
    app.add_option("--qmp", options.qmp, "QMP socket of a running QEMU (-qmp unix:PATH,server,nowait): read it live");
    app.add_option("--access", options.access,
                   "How to reach a live guest's RAM: auto (default), memfd, process (process_vm_readv) or monitor");
    app.add_option("--pagemode", options.pagemode,
                   "Paging mode when the source has no registers: legacy, pae, ia32e, la57");
    app.add_option("--format", options.format_text, "Output format: text, json or jsonl")->default_str("text");
    app.add_flag("-v,--verbose", options.verbose, "Say on stderr what was found and how");
}

const ConfigKeySet& all_config_keys()
{
    static const ConfigKeySet keys =
        ConfigKeySet(libvmi_keys_read_by_no_layer()).add(session_config_keys()).add(linux_config_keys());
    return keys;
}

SessionSettings session_settings(const GuestOptions& options, bool memory_optional)
{
    SessionSettings settings;
    settings.vm = options.vm;
    settings.config_path = options.config_path;
    settings.config_keys = all_config_keys();
    settings.image = options.image;
    settings.qmp = options.qmp;
    settings.backend = options.backend;
    settings.qemu_pid = options.qemu_pid;
    settings.domid = options.domid;
    settings.uri = options.uri;
    settings.access = options.access;
    settings.writable_image = options.writable_image;
    settings.writes = options.writes;
    settings.memory_optional = memory_optional;
    return settings;
}

LinuxSettings linux_settings(const GuestOptions& options, const ConfigEntry* entry)
{
    LinuxSettings settings;
    settings.sysmap = options.sysmap;
    settings.btf = options.btf;
    if (!options.pagemode.empty()) {
        settings.paging_mode = parse_paging_mode(options.pagemode);
        if (!settings.paging_mode)
            fail("--pagemode: unknown paging mode '{}' (expected legacy, pae, ia32e or la57)", options.pagemode);
    }
    if (entry) settings.entry = *entry;
    return settings;
}

} // namespace vmi
