#pragma once
// Kernel symbols from a System.map or a copy of /proc/kallsyms (same format:
// "ADDRESS TYPE NAME [module]"). Lookup by name, by address and by glob.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vmi {

struct Symbol {
    std::uint64_t address = 0;
    char type = '?';
    std::string name;
    std::string module; // kallsyms "[module]" suffix, empty for the kernel image
};

class SymbolTable {
public:
    // Parses System.map/kallsyms text; `origin` names the source in errors.
    static SymbolTable parse(std::string_view text, const std::string& origin);
    static SymbolTable load(const std::string& path);

    const std::string& origin() const { return origin_; }
    std::size_t size() const { return symbols_.size(); }
    const std::vector<Symbol>& symbols() const { return symbols_; }

    // The first symbol of that name (kernel image symbols before module ones).
    const Symbol* find(std::string_view name) const;
    // Like find(), but throws vmi::Error naming the symbol and the table.
    const Symbol& require(std::string_view name) const;

    // The symbol at or below `address`, skipping absolute symbols.
    struct Nearest {
        const Symbol* symbol = nullptr;
        std::uint64_t offset = 0;
    };
    Nearest nearest_below(std::uint64_t address) const;

    // Symbols whose names match a shell glob (fnmatch), in address order.
    std::vector<const Symbol*> match(std::string_view glob) const;

    // Adds `slide` to every symbol address (a KASLR offset).
    void relocate(std::int64_t slide);

private:
    void index();

    std::string origin_;
    std::vector<Symbol> symbols_;
    std::unordered_map<std::string_view, std::size_t> by_name_;
    std::vector<std::size_t> by_address_;
};

} // namespace vmi
