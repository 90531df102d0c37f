#include "vmi/ToolMain.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "vmi/Diagnostics.hpp"
#include "vmi/Error.hpp"

namespace vmi {
namespace {

// One line for a broken or full stdout, instead of a silent death by SIGPIPE.
void finish_stdout()
{
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
        throw Error(fmt::format("cannot write output: {}", std::strerror(errno)));
}

} // namespace

int run_tool(std::string_view name, std::string_view description, int argc, char** argv,
             const std::function<void(CLI::App&)>& define, const std::function<int()>& run)
{
    diag::set_program(name);
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{std::string(description), std::string(name)};
    app.set_version_flag("--version", std::string(name) + " (vmitools) " VMI_VERSION);
    app.footer("Exit status: 0 success, 1 found something (check modes), 2 error.");
    try {
        define(app);
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "{}: {} (see --help)\n", name, e.what());
        return EXIT_ERROR;
    } catch (const std::exception& e) {
        fmt::print(stderr, "{}: {}\n", name, e.what());
        return EXIT_ERROR;
    }
    try {
        int status = run();
        finish_stdout();
        return status;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        fmt::print(stderr, "{}: {}\n", name, e.what());
        return EXIT_ERROR;
    }
}

} // namespace vmi
