#pragma once
// Kernel profiles: for kernels without BTF (Debian's 686 and 686-pae), the
// real System.map and the structure offsets of one kernel build, in
// <dir>/<release>/ (System.map.xz and offsets.conf, made by
// share/profiles/generate-profile.sh). The tools pick the profile whose
// release the guest's own banner names, so such guests need no --sysmap and
// no offsets in any config.
#include <optional>
#include <string>
#include <vector>

#include "vmi/config/ConfigFile.hpp"
#include "vmi/linux/Kallsyms.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {

struct KernelProfile {
    std::string release;   // "6.1.0-50-686-pae"
    std::string directory; // where it was found
    SymbolTable symbols;   // link-time addresses
    ConfigEntry offsets;   // offsets.conf's keys, as a config entry
    std::string how;       // why it matched, for --verbose
};

// Where profiles are looked for, in order: $VMI_PROFILE_PATH (colon-separated),
// the installed share/vmitools/profiles next to the executable's bin/, and the
// source tree's share/profiles when the tools run from a build.
std::vector<std::string> kernel_profile_directories();

// The profile of the kernel in `memory`: the one whose text symbols lie
// where the guest's own kallsyms tables (`kallsyms`, when found: kernels
// without KALLSYMS_ALL still list text symbols) put them, all moved by one
// KASLR slide; else the one whose linux_banner, at any place the kernel's
// image can lie, reads "Linux version <release> ". The first does not
// depend on a string the guest can overwrite. nullopt when none matches.
std::optional<KernelProfile> match_kernel_profile(MemorySource& memory, const ConfigKeySet& keys,
                                                  const KallsymsReader* kallsyms = nullptr);

} // namespace vmi
