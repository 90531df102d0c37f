// What QEMU's human monitor prints, parsed: `info mtree -f`, `info registers`,
// `gpa2hva` and `xp`. The first byte picks the parser (and for xp the number
// of 8-byte units asked for); the rest is the monitor's text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzSupport.hpp"
#include "vmi/memory/QemuLayout.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    vmi_fuzz::InputReader in(data, size);
    auto selector = in.take<std::uint8_t>();
    std::span<const std::uint8_t> rest = in.rest();
    std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
    try {
        switch (selector % 4) {
        case 0: {
            std::vector<vmi::QemuRamRegion> regions = vmi::parse_qemu_mtree(text);
            for (std::size_t i = 1; i < regions.size(); ++i)
                if (regions[i - 1].start > regions[i].start) vmi_fuzz::invariant_failed("regions not sorted");
            break;
        }
        case 1: {
            vmi::CpuRegisters registers = vmi::parse_qemu_registers(text);
            if (auto mode = registers.paging_mode()) (void)registers.dtb(*mode);
            break;
        }
        case 2: (void)vmi::parse_qemu_gpa2hva(text); break;
        case 3: {
            // The tools ask for a page (512 units) at a time; small counts make short inputs.
            std::size_t units = selector >= 252 ? 512 : selector / 4;
            if (vmi::parse_qemu_xp(text, units).size() != units * 8) vmi_fuzz::invariant_failed("xp byte count");
            break;
        }
        }
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
    return 0;
}
