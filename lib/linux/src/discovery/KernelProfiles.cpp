#include "discovery/KernelProfiles.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/MappedFile.hpp"
#include "vmi/types/KernelImage.hpp"

namespace vmi {
namespace {

constexpr std::uint64_t IMAGE_ALIGN = 0x200000; // as in LinuxKernelLocator
constexpr std::size_t MAX_SYSTEM_MAP = std::size_t{64} << 20;

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open '{}': {}", path.string(), std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// System.map.xz (as generate-profile.sh writes it) or a plain System.map.
std::optional<std::string> system_map_text(const std::filesystem::path& dir)
{
    std::error_code error;
    if (std::filesystem::exists(dir / "System.map", error)) return read_file(dir / "System.map");
    if (!std::filesystem::exists(dir / "System.map.xz", error)) return std::nullopt;
    MappedFile compressed((dir / "System.map.xz").string(), false, "profile");
    std::vector<std::uint8_t> bytes =
        decompress_stream(KernelCompression::xz, compressed.bytes(), compressed.path(), MAX_SYSTEM_MAP);
    return std::string(bytes.begin(), bytes.end());
}

bool reads(MemorySource& memory, std::uint64_t pa, std::string_view text)
{
    if (!memory.is_ram(pa, text.size())) return false;
    std::string bytes(text.size(), '\0');
    memory.read(pa, {reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()});
    return bytes == text;
}

// Whether "Linux version <release> " lies where linux_banner can be: at its
// offset within 2 MiB, in any 2 MiB step of RAM (the kernel image is loaded
// 2 MiB-aligned, however KASLR moved it).
bool banner_names(MemorySource& memory, std::uint64_t banner, const std::string& release)
{
    std::string expected = "Linux version " + release + " ";
    for (const PhysicalRange& range : memory.ranges())
        for (std::uint64_t pa = (range.start & ~(IMAGE_ALIGN - 1)) | (banner & (IMAGE_ALIGN - 1)); pa < range.end();
             pa += IMAGE_ALIGN)
            if (pa >= range.start && reads(memory, pa, expected)) return true;
    return false;
}

// Text symbols every kernel has, spread over its image: the profile must
// place each where the guest's own tables do, less one slide.
constexpr std::string_view WITNESS_SYMBOLS[] = {"_stext",  "start_kernel", "do_exit", "schedule",
                                                "do_idle", "kthreadd",     "_printk", "panic"};
constexpr std::size_t MIN_WITNESSES = 4;

std::optional<std::string> kallsyms_agree(const SymbolTable& symbols, const KallsymsReader& kallsyms)
{
    std::vector<std::optional<KallsymsSymbol>> found = kallsyms.lookup(WITNESS_SYMBOLS);
    std::optional<std::uint64_t> slide;
    std::size_t agreeing = 0;
    std::uint64_t mask = kallsyms.location().pointer_size == 8 ? ~std::uint64_t{0} : 0xffffffffULL;
    for (std::size_t i = 0; i < found.size(); ++i) {
        const Symbol* mine = symbols.find(WITNESS_SYMBOLS[i]);
        if (!found[i] || !mine) continue;
        std::uint64_t difference = (found[i]->address - mine->address) & mask;
        if (slide && *slide != difference) return std::nullopt;
        slide = difference;
        ++agreeing;
    }
    if (agreeing < MIN_WITNESSES) return std::nullopt;
    return fmt::format("{} text symbols where the guest's kallsyms tables put them (slide {:#x})", agreeing, *slide);
}

std::string executable_directory()
{
    std::error_code error;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::string() : exe.parent_path().string();
}

} // namespace

std::vector<std::string> kernel_profile_directories()
{
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("VMI_PROFILE_PATH"); path && *path) {
        std::string_view rest = path;
        while (!rest.empty()) {
            std::size_t colon = rest.find(':');
            if (colon) dirs.emplace_back(rest.substr(0, colon));
            if (colon == std::string_view::npos) break;
            rest.remove_prefix(colon + 1);
        }
    }
    if (std::string bin = executable_directory(); !bin.empty()) dirs.push_back(bin + "/../share/vmitools/profiles");
#ifdef VMI_SOURCE_PROFILES
    dirs.emplace_back(VMI_SOURCE_PROFILES);
#endif
    return dirs;
}

std::optional<KernelProfile> match_kernel_profile(MemorySource& memory, const ConfigKeySet& keys,
                                                  const KallsymsReader* kallsyms)
{
    std::error_code error;
    for (const std::string& root : kernel_profile_directories()) {
        if (!std::filesystem::is_directory(root, error)) continue;
        for (const auto& item : std::filesystem::directory_iterator(root, error)) {
            const std::filesystem::path& dir = item.path();
            if (!std::filesystem::exists(dir / "offsets.conf", error)) continue;
            std::string release = dir.filename().string();
            try {
                std::optional<std::string> map = system_map_text(dir);
                if (!map) continue;
                SymbolTable symbols = SymbolTable::parse(std::move(*map), (dir / "System.map.xz").string());
                std::optional<std::string> how = kallsyms ? kallsyms_agree(symbols, *kallsyms) : std::nullopt;
                const Symbol* banner = symbols.find("linux_banner");
                if (!how && banner && banner_names(memory, banner->address, release))
                    how = fmt::format("linux_banner reads 'Linux version {} '", release);
                if (!how) continue;
                std::string offsets = "profile {\n" + read_file(dir / "offsets.conf") + "\n}\n";
                ConfigFile file = ConfigFile::parse(offsets, (dir / "offsets.conf").string(), keys);
                return KernelProfile{release, dir.string(), std::move(symbols), *file.find("profile"), std::move(*how)};
            } catch (const Error& e) {
                diag::warn("kernel profile '{}' is unusable: {}", dir.string(), e.what());
            }
        }
    }
    return std::nullopt;
}

} // namespace vmi
