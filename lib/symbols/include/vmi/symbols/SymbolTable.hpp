#pragma once
// Kernel symbols from a System.map or a copy of /proc/kallsyms (same format:
// "ADDRESS TYPE NAME [module]"). Lookup by name, by address and by glob.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/base/MappedFile.hpp"

namespace vmi {

// Names point into the table's own copy of the file: a 100k-line kallsyms
// loads without 100k allocations.
struct Symbol {
    std::uint64_t address = 0;
    char type = '?';
    std::string_view name;
    std::string_view module; // kallsyms "[module]" suffix, empty for the kernel image
};

class SymbolTable {
public:
    // The longest name a table takes (KSYM_NAME_LEN is 512 since 6.1).
    static constexpr std::size_t MAX_NAME_LENGTH = 512;

    // Parses System.map/kallsyms text; `origin` names the source in errors.
    static SymbolTable parse(std::string text, const std::string& origin);
    // Maps the file and parses it in place.
    static SymbolTable load(const std::string& path);

    SymbolTable() = default;
    SymbolTable(SymbolTable&&) = default;
    SymbolTable& operator=(SymbolTable&&) = default;
    SymbolTable(const SymbolTable&) = delete; // symbols point into text_
    SymbolTable& operator=(const SymbolTable&) = delete;

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
    // Builds the index by address that nearest_below, at and next_above use
    // (once; they build it on first use otherwise): a tool that looks up many
    // addresses while a guest is paused builds it before.
    void index_addresses() const { address_order(); }
    // Every symbol at exactly `address` (aliases share one), absolute ones aside.
    std::vector<const Symbol*> at(std::uint64_t address) const;
    // The first symbol above `address`: where the code or data at `address`
    // ends at the latest. Null when there is none.
    const Symbol* next_above(std::uint64_t address) const;

    // Symbols whose names match a shell glob (fnmatch), in address order.
    std::vector<const Symbol*> match(std::string_view glob) const;

    // Adds `slide` to every symbol address (a KASLR offset).
    void relocate(std::int64_t slide);

private:
    friend class SymbolTableBuilder; // fills symbols_ and text_ directly
    void parse_lines(std::string_view text);
    void index();
    // Indices sorted by address, built on first use: only --reverse and
    // --list need them, and sorting 100k symbols is a fair part of a load.
    const std::vector<std::uint32_t>& address_order() const;

    std::string origin_;
    // The text the names point into, on the heap so moving the table keeps
    // them valid: a mapped file, or a string given to parse().
    std::unique_ptr<MappedFile> file_;
    std::unique_ptr<std::string> text_;
    std::vector<Symbol> symbols_;
    // An open-addressing hash of symbol indices (kernel image before modules)
    // and indices sorted by address: flat arrays load faster than 100k nodes.
    static constexpr std::uint32_t EMPTY_SLOT = UINT32_MAX;
    std::vector<std::uint32_t> by_name_;
    mutable std::vector<std::uint32_t> by_address_;
    mutable bool by_address_ready_ = false;
};

} // namespace vmi
