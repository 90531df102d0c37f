#pragma once
// What a run parsed from the files its user gave (a System.map or kallsyms
// copy, and a BTF file or vmlinuz), kept so that the next run with the same
// files parses neither: the symbols the tools looked up, the names they
// looked for in vain, and the structure layout resolved from the BTF file.
// A run that needs a symbol the entry lacks parses the symbol file then, and
// the entry learns it.
//
// An entry is keyed by the files' identity: each one's size, modification
// time, device and inode, and a hash of its first and last 64 KiB. Entries
// live beside the kernel builds' (kernel_build_cache_directory), are written
// whole (a temporary file, then rename) and are ignored when they do not
// parse.
#include <optional>
#include <string>
#include <vector>

#include "discovery/KernelBuildCache.hpp"

namespace vmi {

struct GivenFilesEntry {
    std::vector<CachedSymbol> symbols; // addresses as the symbol file has them (no slide)
    std::vector<std::string> absent;   // names the symbol file does not have
    std::string layout;                // LinuxLayout::serialize() of the BTF file's layout; empty: none
    std::string path;                  // where it was read from or written to
};

// The key of these files (an empty btf: the symbol file alone); nullopt when
// one cannot be read, or the cache is off.
std::optional<std::string> given_files_key(const std::string& sysmap, const std::string& btf);

// The entry of `key`; nullopt when there is none or it is not ours.
std::optional<GivenFilesEntry> find_given_files_entry(const std::string& key);

// Writes `entry` under `key`; returns the path, or nullopt when the write
// failed (a cache is never worth an error).
std::optional<std::string> store_given_files_entry(const std::string& key, const GivenFilesEntry& entry,
                                                   const std::string& sysmap, const std::string& btf);

} // namespace vmi
