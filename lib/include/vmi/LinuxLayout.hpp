#pragma once
// Where the fields the tools read sit inside Linux kernel structures:
// byte offsets within task_struct, mm_struct, cred and module, plus a few
// sizes. Each comes from an explicit config key (LibVMI's names where LibVMI
// has them, e.g. linux_tasks; ours otherwise, e.g. linux_tgid) or from the
// kernel's BTF; a config key wins. Field names that moved between kernel
// versions (__state/state, core_layout/mem[]) are resolved by what BTF says.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmi {

class ConfigEntry;
class KernelBtf;

// One layout value: its config key and where BTF keeps it.
struct LayoutFieldSpec {
    std::string_view key;
    std::string_view btf_struct;
    std::vector<std::string_view> btf_paths; // alternatives, newest kernel first
    std::string_view kind;                   // "offset", "length", "size", "count"
};

const std::vector<LayoutFieldSpec>& linux_layout_fields();

class LinuxLayout {
public:
    static LinuxLayout resolve(const ConfigEntry* entry, const KernelBtf* btf);

    // The value of `key`; throws vmi::Error naming the key and the BTF field
    // it would come from.
    std::uint64_t get(std::string_view key) const;
    std::optional<std::uint64_t> find(std::string_view key) const;
    // "config", "BTF task_struct.__state" or "default".
    std::string source(std::string_view key) const;

    // Offsets of the module size fields that /proc/modules adds up.
    const std::vector<std::uint64_t>& module_size_offsets() const { return module_size_offsets_; }

private:
    struct Value {
        std::uint64_t value;
        std::string source;
    };
    std::map<std::string, Value, std::less<>> values_;
    std::vector<std::uint64_t> module_size_offsets_;
    bool have_btf_ = false;
};

} // namespace vmi
