#pragma once
// The command-line contract every tool shares:
//   TOOL [options] VM          VM: a config entry's name, or a running libvirt domain's
//                              (with --backend xen: a Xen domain's)
//   TOOL [options] --image FILE | --qmp SOCKET | --domid N
// with the source (-c, --image, --qmp, --backend, --uri, --access), the
// kernel (--sysmap, --btf, --pagemode), --format and -v. Flags override the
// config entry's keys; the layers get plain settings made from both.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/OutputFormat.hpp"
#include "vmi/config/ConfigKeys.hpp"
#include "vmi/linux/LinuxKernel.hpp"
#include "vmi/session/Session.hpp"

namespace vmi {

struct GuestOptions {
    std::string vm;          // positional
    std::string config_path; // -c/--config
    std::string image;       // --image
    std::string sysmap;      // --sysmap
    std::string pagemode;    // --pagemode
    std::string btf;         // --btf
    std::string qmp;         // --qmp: a live QEMU's QMP socket
    std::string access;      // --access: auto, memfd, process, monitor (live guests)
    std::string backend;     // --backend: kvm (libvirt), xen, qmp, file
    std::string domid;       // --domid: a Xen domain's id
    std::string qemu_pid;    // --qemu-pid: a QEMU process no manager owns
    std::string uri;         // --uri: libvirt connection URI
    std::string format_text = "text";
    bool verbose = false;
    bool writable_image = false; // set by tools that write (vmi-write --writable-image)
    bool writes = false;         // the tool writes guest memory: live guests open read-write

    OutputFormat format() const { return parse_output_format(format_text); }
};

// Adds the shared options and the VM positional to `app`.
void add_guest_options(CLI::App& app, GuestOptions& options);

// Every config key some layer reads: a config entry is checked against these.
const ConfigKeySet& all_config_keys();

SessionSettings session_settings(const GuestOptions& options, bool memory_optional = false);
LinuxSettings linux_settings(const GuestOptions& options, const ConfigEntry* entry);

} // namespace vmi
