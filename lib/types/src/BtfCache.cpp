#include "vmi/types/BtfCache.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// A cached blob larger than this is not ours: vmlinux BTF is a few MiB.
constexpr std::uintmax_t MAX_ENTRY_BYTES = 256ull << 20;

std::string cache_directory()
{
    const char* enabled = std::getenv("VMI_BTF_CACHE");
    if (enabled && std::string_view(enabled) == "0") return {};
    if (const char* dir = std::getenv("VMI_CACHE_DIR"); dir && *dir) return std::string(dir) + "/btf";
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/vmitools/btf";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/vmitools/btf";
    return {};
}

std::uint64_t fnv1a(std::string_view text)
{
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
    return hash;
}

} // namespace

BtfCache::BtfCache(const std::string& kernel_path)
{
    std::string dir = cache_directory();
    struct stat st {};
    if (dir.empty() || ::stat(kernel_path.c_str(), &st) != 0) return;
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(kernel_path, error);
    if (error) return;
    std::string identity = fmt::format("{}\n{}:{}:{}:{}.{}", absolute.string(), st.st_dev, st.st_ino, st.st_size,
                                       st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    entry_path_ = fmt::format("{}/{:016x}.btf", dir, fnv1a(identity));
}

std::unique_ptr<MappedFile> BtfCache::read() const
{
    if (!enabled()) return nullptr;
    std::error_code error;
    std::uintmax_t size = std::filesystem::file_size(entry_path_, error);
    if (error || size == 0 || size > MAX_ENTRY_BYTES) return nullptr;
    try {
        return std::make_unique<MappedFile>(entry_path_, false, "BTF cache entry");
    } catch (const Error&) {
        return nullptr;
    }
}

bool BtfCache::write(std::span<const std::uint8_t> btf) const
{
    if (!enabled()) return false;
    std::error_code error;
    std::filesystem::path entry(entry_path_);
    std::filesystem::create_directories(entry.parent_path(), error);
    if (error) return false;
    std::string temporary = fmt::format("{}.{}.tmp", entry_path_, ::getpid());
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(btf.data()), static_cast<std::streamsize>(btf.size()));
        if (!out.flush()) {
            std::filesystem::remove(temporary, error);
            return false;
        }
    }
    std::filesystem::rename(temporary, entry, error);
    if (error) std::filesystem::remove(temporary, error);
    return !error;
}

} // namespace vmi
