#pragma once
// Builds a SymbolTable from symbols given one by one, such as those decoded
// from a guest kernel's own kallsyms tables: no kallsyms text is formatted
// and parsed again. The names are copied into one buffer that the table owns,
// so 200k symbols cost two allocations, and they stay valid as the table moves.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {

class SymbolTableBuilder {
public:
    // Sizes the buffers ahead (optional).
    void reserve(std::size_t symbols, std::size_t name_bytes);
    // Names follow the rules of a kallsyms line: not empty, at most 512 bytes,
    // no whitespace or control characters (vmi::Error otherwise). `module` is
    // empty for the kernel image.
    void add(std::uint64_t address, char type, std::string_view name, std::string_view module = {});
    std::size_t size() const { return entries_.size(); }
    // The table; `origin` names it in errors ("kallsyms in guest memory").
    // The builder is left empty.
    SymbolTable build(const std::string& origin);

private:
    struct Entry {
        std::uint64_t address;
        char type;
        std::uint32_t name_offset;
        std::uint32_t name_size;
        std::uint32_t module_offset;
        std::uint32_t module_size;
    };
    std::uint32_t append(std::string_view text);

    std::string text_;
    std::vector<Entry> entries_;
};

} // namespace vmi
