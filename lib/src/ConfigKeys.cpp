#include "vmi/ConfigKeys.hpp"

#include <array>

#include "vmi/LinuxLayout.hpp"

namespace vmi {
namespace {

constexpr auto N = ConfigValueKind::Number;
constexpr auto T = ConfigValueKind::Text;

constexpr std::array KEYS{
    // LibVMI's keys (libvmi/config/lexicon.l), same meaning.
    ConfigKey{"ostype", T, false},
    ConfigKey{"sysmap", T, false},
    ConfigKey{"rekall_profile", T, false},
    ConfigKey{"volatility_ist", T, false},
    ConfigKey{"pagemode", T, false},
    ConfigKey{"kpgd", N, false},
    ConfigKey{"linux_tasks", N, false},
    ConfigKey{"linux_mm", N, false},
    ConfigKey{"linux_name", N, false},
    ConfigKey{"linux_pid", N, false},
    ConfigKey{"linux_pgd", N, false},
    ConfigKey{"linux_addr", N, false},
    ConfigKey{"linux_init_task", N, false},
    ConfigKey{"linux_kaslr", N, false},
    ConfigKey{"win_ntoskrnl", N, false},
    ConfigKey{"win_ntoskrnl_va", N, false},
    ConfigKey{"win_tasks", N, false},
    ConfigKey{"win_pdbase", N, false},
    ConfigKey{"win_pid", N, false},
    ConfigKey{"win_pname", N, false},
    ConfigKey{"win_kdvb", N, false},
    ConfigKey{"win_kdbg", N, false},
    ConfigKey{"win_kpcr", N, false},
    ConfigKey{"win_sysproc", N, false},
    ConfigKey{"freebsd_name", N, false},
    ConfigKey{"freebsd_pid", N, false},
    ConfigKey{"freebsd_vmspace", N, false},
    ConfigKey{"freebsd_pmap", N, false},
    ConfigKey{"freebsd_pgd", N, false},
    ConfigKey{"aarch64_ttbr0_va_width", N, false},
    ConfigKey{"aarch64_ttbr0_granule_size", N, false},
    ConfigKey{"aarch64_ttbr1_va_width", N, false},
    ConfigKey{"aarch64_ttbr1_granule_size", N, false},
    // Ours; the structure-layout keys (linux_tgid, ...) come from LinuxLayout.
    ConfigKey{"image", T, true},
    ConfigKey{"btf", T, true},
    ConfigKey{"qmp", T, true},
    ConfigKey{"backend", T, true},
    ConfigKey{"uri", T, true},
    ConfigKey{"access", T, true},
};

} // namespace

std::optional<ConfigKey> find_config_key(std::string_view name)
{
    for (const ConfigKey& key : KEYS)
        if (key.name == name) return key;
    for (const LayoutFieldSpec& field : linux_layout_fields())
        if (field.key == name) return ConfigKey{field.key, N, true};
    return std::nullopt;
}

} // namespace vmi
