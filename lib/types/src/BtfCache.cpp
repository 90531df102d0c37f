#include "vmi/types/BtfCache.hpp"

#include <filesystem>
#include <sys/stat.h>

#include <fmt/format.h>

#include "vmi/base/AtomicFileWrite.hpp"
#include "vmi/base/CacheDirectory.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/Fnv1a.hpp"

namespace vmi {
namespace {

// A cached blob larger than this is not ours: vmlinux BTF is a few MiB.
constexpr std::uintmax_t MAX_ENTRY_BYTES = 256ull << 20;

} // namespace

BtfCache::BtfCache(const std::string& kernel_path)
{
    std::string dir = cache_directory("btf", "VMI_BTF_CACHE");
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
    return write_file_atomically(entry_path_, btf);
}

} // namespace vmi
