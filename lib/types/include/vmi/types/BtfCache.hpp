#pragma once
// A per-user cache of the BTF taken out of compressed kernels. Unpacking an
// xz vmlinuz costs about a second, which every run of a tool would pay; the
// BTF inside it is a few MiB and loads in milliseconds. An entry is keyed by
// the kernel file's identity (path, device, inode, size, modification time),
// so a replaced file is unpacked again. Every failure to read or write the
// cache is harmless: the kernel is then unpacked as if there were none.
//
// Location: $VMI_CACHE_DIR/btf, else $XDG_CACHE_HOME/vmitools/btf, else
// ~/.cache/vmitools/btf. VMI_BTF_CACHE=0 turns it off.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vmi/base/MappedFile.hpp"

namespace vmi {

class BtfCache {
public:
    // The cache entry for the kernel file at `kernel_path`; disabled when the
    // file cannot be stat'ed or no cache directory is known.
    explicit BtfCache(const std::string& kernel_path);

    bool enabled() const { return !entry_path_.empty(); }
    const std::string& entry_path() const { return entry_path_; }

    // The cached entry, mapped (no copy), if one exists.
    std::unique_ptr<MappedFile> read() const;
    // Stores `btf` atomically (temporary file + rename); false on failure.
    bool write(std::span<const std::uint8_t> btf) const;

private:
    std::string entry_path_;
};

} // namespace vmi
