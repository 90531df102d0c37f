#include "vmi/config/ConfigKeys.hpp"

namespace vmi {

ConfigKeySet& ConfigKeySet::add(const ConfigKeySet& other)
{
    for (const ConfigKey& key : other.keys_)
        if (!find(key.name)) keys_.push_back(key);
    return *this;
}

const ConfigKey* ConfigKeySet::find(std::string_view name) const
{
    for (const ConfigKey& key : keys_)
        if (key.name == name) return &key;
    return nullptr;
}

const ConfigKeySet& libvmi_keys_read_by_no_layer()
{
    constexpr auto N = ConfigValueKind::Number;
    constexpr auto T = ConfigValueKind::Text;
    // libvmi/config/lexicon.l
    static const ConfigKeySet keys{
        {"ostype", T, false},
        {"rekall_profile", T, false},
        {"volatility_ist", T, false},
        {"linux_addr", N, false},
        {"win_ntoskrnl", N, false},
        {"win_ntoskrnl_va", N, false},
        {"win_tasks", N, false},
        {"win_pdbase", N, false},
        {"win_pid", N, false},
        {"win_pname", N, false},
        {"win_kdvb", N, false},
        {"win_kdbg", N, false},
        {"win_kpcr", N, false},
        {"win_sysproc", N, false},
        {"freebsd_name", N, false},
        {"freebsd_pid", N, false},
        {"freebsd_vmspace", N, false},
        {"freebsd_pmap", N, false},
        {"freebsd_pgd", N, false},
        {"aarch64_ttbr0_va_width", N, false},
        {"aarch64_ttbr0_granule_size", N, false},
        {"aarch64_ttbr1_va_width", N, false},
        {"aarch64_ttbr1_granule_size", N, false},
    };
    return keys;
}

} // namespace vmi
