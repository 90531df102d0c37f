// vmi-lsmod: list a guest's kernel modules from outside, as lsmod would
// inside (the paper's Table 2 experiment).
#include "vmi/Diagnostics.hpp"
#include "vmi/Hexdump.hpp"
#include "vmi/LinuxKernel.hpp"
#include "vmi/OutputFormat.hpp"
#include "vmi/ScopedPause.hpp"
#include "vmi/Session.hpp"
#include "vmi/TextTable.hpp"
#include "vmi/ToolMain.hpp"

namespace {

struct LsmodOptions {
    vmi::SessionOptions session;
    bool no_headers = false;
    bool no_pause = false;
};

std::string used_by(const vmi::LinuxModule& module)
{
    std::string text = std::to_string(module.refcount);
    for (std::size_t i = 0; i < module.used_by.size(); ++i)
        text += (i ? "," : " ") + vmi::printable(module.used_by[i]);
    return text;
}

int run(LsmodOptions& options)
{
    vmi::OutputFormat format = options.session.format();
    vmi::Session session = vmi::Session::open(options.session);
    vmi::ModuleListing listing;
    {
        vmi::LinuxKernel linux_kernel(session); // attach before pausing: the paused window is the walk only
        vmi::ScopedPause pause(session.memory(), !options.no_pause);
        listing = linux_kernel.modules();
    }
    if (format == vmi::OutputFormat::Text) {
        vmi::TextTable table({{"Module", false}, {"Size", true}, {"Used by", false}, {"Address", false}});
        for (const vmi::LinuxModule& module : listing.modules)
            table.add_row({vmi::printable(module.name), std::to_string(module.size), used_by(module),
                           vmi::hex_address(module.base)});
        fmt::print("{}", table.render(!options.no_headers));
    } else {
        nlohmann::json all = nlohmann::json::array();
        for (const vmi::LinuxModule& module : listing.modules) {
            nlohmann::json item{{"name", module.name},         {"size", module.size},
                                {"refcount", module.refcount}, {"used_by", module.used_by},
                                {"address", vmi::hex_address(module.base)}, {"state", module.state},
                                {"module", vmi::hex_address(module.address)}};
            if (format == vmi::OutputFormat::JsonLines) fmt::print("{}\n", vmi::to_json_text(item));
            else all.push_back(std::move(item));
        }
        if (format == vmi::OutputFormat::Json) fmt::print("{}\n", vmi::to_json_text(all));
    }
    for (const std::string& problem : listing.problems) vmi::diag::warn("{}", problem);
    return listing.problems.empty() ? vmi::EXIT_OK : vmi::EXIT_ERROR;
}

} // namespace

int main(int argc, char** argv)
{
    LsmodOptions options;
    return vmi::run_tool(
        "vmi-lsmod", "List a guest's kernel modules from outside the guest.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_session_options(app, options.session);
            app.add_flag("--no-headers", options.no_headers, "No header line; columns joined by single spaces");
            app.add_flag("--no-pause", options.no_pause, "Read a live guest without pausing it");
        },
        [&] { return run(options); });
}
