// The Linux task and module lists over guest RAM made of fuzz input, through
// LinuxKernel's public API as the tools use it: a System.map and a config
// entry with structure offsets (MiniLinux.hpp), RAM at physical 0 (at most
// 64 KiB; the seed is MiniLinux's). Finding the kernel (page tables, banner,
// KASLR slide search) runs on the same RAM.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "FuzzMemory.hpp"
#include "FuzzSupport.hpp"
#include "MiniLinux.hpp"
#include "vmi/config/ConfigFile.hpp"
#include "vmi/linux/LinuxKernel.hpp"

namespace {

constexpr std::size_t MAX_RAM = 64 * 1024;
vmi::LinuxSettings settings;

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    // The System.map in a memfd, by its /proc path: the layer loads symbols from a file.
    int fd = ::memfd_create("fuzz-system-map", MFD_CLOEXEC);
    const std::string_view map = vmi_fuzz::mini_linux::SYSTEM_MAP;
    if (fd < 0 || ::write(fd, map.data(), map.size()) != static_cast<ssize_t>(map.size())) std::abort();
    settings.sysmap = "/proc/self/fd/" + std::to_string(fd);
    vmi::ConfigFile config =
        vmi::ConfigFile::parse(vmi_fuzz::mini_linux::CONFIG, "mini-linux.conf", vmi::linux_config_keys());
    settings.entry = *config.find("fuzz");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size > MAX_RAM) return -1;
    if (size == 0) return 0;
    vmi_fuzz::FuzzMemory memory;
    memory.add(0, {data, size});
    std::optional<vmi::LinuxKernel> kernel;
    try {
        kernel.emplace(&memory, settings);
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
        return 0;
    }
    // Each job on its own, as the tools run them: one that fails must leave the kernel
    // object fit for the next.
    auto job = [](auto&& run) {
        try {
            run();
        } catch (const vmi::Error& e) {
            vmi_fuzz::check_error(e);
        }
    };
    constexpr std::size_t MAX_TASKS = 256;
    job([&] {
        vmi::TaskListOptions options;
        options.threads = true;
        options.max_tasks = MAX_TASKS;
        vmi::TaskListing listing = kernel->tasks(options);
        // Each leader's thread walk has the same cap as the leaders' walk.
        if (listing.tasks.size() > options.max_tasks * (options.max_tasks + 1))
            vmi_fuzz::invariant_failed("task list past its cap");
        for (const vmi::LinuxTask& task : listing.tasks) (void)kernel->command_line(task);
    });
    job([&] { (void)kernel->modules(); });
    // The cross views of vmi-ps --check and vmi-lsmod --check: those the mini layout has
    // (the task list, the thread groups, the scan of RAM, the module list; the others
    // are unavailable) and the comparison.
    job([&] {
        vmi::TaskCrossView check = kernel->check_tasks(std::nullopt, true, MAX_TASKS);
        // Every view stops at the cap (the start task, such as init_task, may come on top).
        for (const vmi::ObjectView& view : check.views)
            if (view.objects.size() > MAX_TASKS + 1)
                vmi_fuzz::invariant_failed("task view " + view.id + " past its cap");
    });
    job([&] { (void)kernel->check_modules(MAX_TASKS); });
    return 0;
}
