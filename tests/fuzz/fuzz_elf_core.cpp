// Memory-dump files: the ELF core parser (QEMU dump-guest-memory, virsh dump)
// and the raw-image fallback, through open_image_file as the tools call it.
// The dump layer maps files, so each input is written to a memfd first and
// opened by its /proc/self/fd path.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "FuzzSupport.hpp"
#include "vmi/memory/DumpFile.hpp"

namespace {

int input_fd = -1;
std::string input_path;

// Reads `size` bytes at `address` and checks that is_ram() agreed it could.
void read_checked(vmi::MemorySource& memory, std::uint64_t address, std::size_t size)
{
    std::vector<std::uint8_t> buffer(size);
    bool ram = memory.is_ram(address, size);
    try {
        memory.read(address, buffer);
        if (!ram) vmi_fuzz::invariant_failed("read succeeded outside RAM");
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
        if (ram) vmi_fuzz::invariant_failed(std::string("read of RAM failed: ") + e.what());
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    input_fd = ::memfd_create("fuzz-image", MFD_CLOEXEC);
    if (input_fd < 0) std::abort();
    input_path = "/proc/self/fd/" + std::to_string(input_fd);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (::ftruncate(input_fd, 0) != 0 || ::pwrite(input_fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
    try {
        std::unique_ptr<vmi::MemorySource> image = vmi::open_image_file(input_path, false);
        (void)image->describe();
        if (auto registers = image->registers())
            if (auto mode = registers->paging_mode()) (void)registers->dtb(*mode);
        const std::vector<vmi::PhysicalRange>& ranges = image->ranges();
        for (std::size_t i = 0; i < ranges.size(); ++i) {
            const vmi::PhysicalRange& range = ranges[i];
            if (range.size == 0 || range.end() < range.start) vmi_fuzz::invariant_failed("empty or wrapping range");
            if (i > 0 && ranges[i - 1].end() > range.start) vmi_fuzz::invariant_failed("ranges overlap or unsorted");
            // Both ends of each range, and across its end into whatever follows.
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(range.size, 64));
            read_checked(*image, range.start, n);
            read_checked(*image, range.end() - n, n);
            read_checked(*image, range.end() - n, n + 1);
            if (range.start > 0) read_checked(*image, range.start - 1, 2);
        }
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
    return 0;
}
