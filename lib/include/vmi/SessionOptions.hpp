#pragma once
// The command-line contract every tool shares:
//   TOOL [options] VM        VM names an entry of the config file
//   TOOL [options] --image FILE
// with -c/--config, --sysmap, --pagemode, --format, -v/--verbose, --version.
// Flags override the config entry's keys.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "vmi/OutputFormat.hpp"

namespace vmi {

struct SessionOptions {
    std::string vm;          // config entry name (positional)
    std::string config_path; // -c/--config
    std::string image;       // --image
    std::string sysmap;      // --sysmap
    std::string pagemode;    // --pagemode
    std::string btf;         // --btf
    std::string qmp;         // --qmp: a live QEMU's QMP socket
    std::string access;      // --access: auto, memfd, process, monitor (live guests)
    std::string backend;     // --backend: kvm (libvirt), qmp, file
    std::string uri;         // --uri: libvirt connection URI
    std::string format_text = "text";
    bool verbose = false;
    bool writable_image = false; // set by tools that write (vmi-write --writable-image)
    bool writes = false;         // the tool writes guest memory: live guests open read-write

    OutputFormat format() const { return parse_output_format(format_text); }
};

// Adds the shared options and the VM positional to `app`.
void add_session_options(CLI::App& app, SessionOptions& options);

} // namespace vmi
