#pragma once
// Synthetic kallsyms tables for the unit tests, laid out byte for byte as each
// kernel version's scripts/kallsyms.c writes them:
//   V6_1  (6.1 - 6.3)  offsets, relative_base, num_syms, names, markers, seqs_of_names, token_table, token_index
//   V6_4  (6.4 - 6.x)  num_syms, names, markers, token_table, token_index, offsets, relative_base, seqs_of_names
//   V7    (7.0 - )     num_syms, names, markers, token_table, token_index, offsets, seqs_of_names
// every table aligned to the pointer size (V6_*) or to 4 (V7). Names are
// compressed the way the kernel does it (the most frequent pair of codes
// becomes an unused code, again and again), with the type letter as the
// first character and a 2-byte ULEB128 length past 127 codes.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

namespace vmi_test {

struct KallsymsSymbolSpec {
    std::uint64_t address = 0;
    char type = 'T';
    std::string name;
    bool percpu = false; // an absolute per-CPU symbol (AbsolutePercpu tables)
};

enum class KallsymsLayout { V6_1, V6_4, V7 };
enum class KallsymsAddressing { Relative, AbsolutePercpu, PlaceRelative, Absolute };

struct KallsymsBuild {
    KallsymsLayout layout = KallsymsLayout::V6_4;
    KallsymsAddressing addressing = KallsymsAddressing::Relative;
    unsigned pointer_size = 8;
    bool seqs = true;                    // kallsyms_seqs_of_names (6.2+, Debian's 6.1)
    std::uint64_t image_va_minus_pa = 0; // PlaceRelative: where the offsets table is mapped
};

// The tables as bytes, placed at `base` (a physical address), and where each one is.
struct KallsymsBlob {
    std::vector<std::uint8_t> bytes;
    std::uint64_t base = 0;
    std::uint64_t num_syms = 0, names = 0, names_size = 0, markers = 0, seqs = 0, token_table = 0, token_index = 0,
                  addresses = 0, relative_base = 0;
    bool has_relative_base = false;
    std::uint32_t count = 0;
    std::uint64_t end() const { return base + bytes.size(); }
};

class KallsymsTableBuilder {
public:
    explicit KallsymsTableBuilder(std::vector<KallsymsSymbolSpec> symbols) : symbols_(std::move(symbols))
    {
        // The kernel's order: by address (absolute per-CPU values are small, so first).
        std::stable_sort(
            symbols_.begin(), symbols_.end(),
            [](const KallsymsSymbolSpec& a, const KallsymsSymbolSpec& b) { return a.address < b.address; });
        compress();
    }

    const std::vector<KallsymsSymbolSpec>& symbols() const { return symbols_; }

    KallsymsBlob build(const KallsymsBuild& build, std::uint64_t base) const
    {
        KallsymsBlob blob;
        blob.base = base;
        blob.count = static_cast<std::uint32_t>(symbols_.size());
        unsigned align = build.layout == KallsymsLayout::V7 ? 4 : build.pointer_size;
        out_ = &blob.bytes;
        auto label = [&](std::uint64_t& where) {
            while ((base + out_->size()) % align) out_->push_back(0);
            where = base + out_->size();
        };
        if (build.layout == KallsymsLayout::V6_1) {
            label(blob.addresses);
            addresses(build, blob);
            if (build.addressing != KallsymsAddressing::Absolute) {
                label(blob.relative_base);
                blob.has_relative_base = true;
                put(relative_base(build), build.pointer_size);
            }
        }
        label(blob.num_syms);
        put(blob.count, 4);
        label(blob.names);
        std::vector<std::uint32_t> markers;
        for (std::size_t i = 0; i < compressed_.size(); ++i) {
            if (i % 256 == 0) markers.push_back(static_cast<std::uint32_t>(base + out_->size() - blob.names));
            const std::vector<std::uint8_t>& name = compressed_[i];
            if (name.size() <= 0x7f) {
                out_->push_back(static_cast<std::uint8_t>(name.size()));
            } else {
                out_->push_back(static_cast<std::uint8_t>((name.size() & 0x7f) | 0x80));
                out_->push_back(static_cast<std::uint8_t>(name.size() >> 7));
            }
            out_->insert(out_->end(), name.begin(), name.end());
        }
        blob.names_size = base + out_->size() - blob.names;
        label(blob.markers);
        for (std::uint32_t marker : markers) put(marker, 4);
        if (build.layout == KallsymsLayout::V6_1 && build.seqs) {
            label(blob.seqs);
            seqs();
        }
        label(blob.token_table);
        std::array<std::uint16_t, 256> index{};
        std::size_t table_start = out_->size();
        for (int code = 0; code < 256; ++code) {
            index[code] = static_cast<std::uint16_t>(out_->size() - table_start);
            out_->insert(out_->end(), tokens_[code].begin(), tokens_[code].end());
            out_->push_back(0);
        }
        label(blob.token_index);
        for (std::uint16_t offset : index) put(offset, 2);
        if (build.layout != KallsymsLayout::V6_1) {
            label(blob.addresses);
            addresses(build, blob);
            if (build.layout == KallsymsLayout::V6_4 && build.addressing != KallsymsAddressing::Absolute) {
                label(blob.relative_base);
                blob.has_relative_base = true;
                put(relative_base(build), build.pointer_size);
            }
            if (build.seqs) {
                label(blob.seqs);
                seqs();
            }
        }
        out_ = nullptr;
        return blob;
    }

private:
    std::string expanded(std::size_t i) const { return std::string(1, symbols_[i].type) + symbols_[i].name; }

    // The names and tokens of compress(), which depend on the expanded names
    // alone. Tests build the same kernel's tables over and over (each shape,
    // each damage), so they are kept per list of names: compressing is most
    // of the unit tests' time under ASan otherwise.
    struct Compressed {
        std::vector<std::vector<std::uint8_t>> names;
        std::array<std::string, 256> tokens;
    };

    void compress()
    {
        static std::map<std::string, Compressed> done;
        std::string key;
        for (std::size_t i = 0; i < symbols_.size(); ++i) key += expanded(i) + '\n';
        auto [at, fresh] = done.try_emplace(key);
        if (fresh) {
            compress_names();
            at->second = {compressed_, tokens_};
            return;
        }
        compressed_ = at->second.names;
        tokens_ = at->second.tokens;
    }

    // scripts/kallsyms.c's optimize_token_table, simply: every byte used is
    // its own token; each free code takes the most frequent pair.
    void compress_names()
    {
        std::array<bool, 256> used{};
        for (std::size_t i = 0; i < symbols_.size(); ++i) {
            std::string text = expanded(i);
            compressed_.emplace_back(text.begin(), text.end());
            for (unsigned char c : text) used[c] = true;
        }
        for (int code = 0; code < 256; ++code)
            if (used[code]) tokens_[code] = std::string(1, static_cast<char>(code));
        for (int code = 255; code >= 0; --code) {
            if (used[code]) continue;
            std::vector<int> pairs(0x10000);
            for (const auto& name : compressed_)
                for (std::size_t k = 0; k + 1 < name.size(); ++k) ++pairs[name[k] | (name[k + 1] << 8)];
            auto best = std::max_element(pairs.begin(), pairs.end());
            if (*best < 2) break; // no profit left: the remaining free codes stay empty tokens
            auto first = static_cast<std::uint8_t>((best - pairs.begin()) & 0xff);
            auto second = static_cast<std::uint8_t>((best - pairs.begin()) >> 8);
            tokens_[code] = tokens_[first] + tokens_[second];
            for (auto& name : compressed_) {
                std::vector<std::uint8_t> out;
                for (std::size_t k = 0; k < name.size(); ++k) {
                    if (k + 1 < name.size() && name[k] == first && name[k + 1] == second) {
                        out.push_back(static_cast<std::uint8_t>(code));
                        ++k;
                    } else {
                        out.push_back(name[k]);
                    }
                }
                name = std::move(out);
            }
        }
    }

    std::uint64_t relative_base(const KallsymsBuild& build) const
    {
        for (const KallsymsSymbolSpec& s : symbols_)
            if (!(build.addressing == KallsymsAddressing::AbsolutePercpu && s.percpu)) return s.address;
        return 0;
    }

    void addresses(const KallsymsBuild& build, const KallsymsBlob& blob) const
    {
        std::uint64_t base = relative_base(build);
        for (std::size_t i = 0; i < symbols_.size(); ++i) {
            const KallsymsSymbolSpec& s = symbols_[i];
            switch (build.addressing) {
            case KallsymsAddressing::Relative: put(s.address - base, 4); break;
            case KallsymsAddressing::AbsolutePercpu: put(s.percpu ? s.address : base - s.address - 1, 4); break;
            case KallsymsAddressing::PlaceRelative: {
                std::uint64_t entry_va = blob.addresses + 4 * i + build.image_va_minus_pa;
                put(s.address - entry_va, 4);
                break;
            }
            case KallsymsAddressing::Absolute:
                put(s.address, build.layout == KallsymsLayout::V7 ? 4 : build.pointer_size);
                break;
            }
        }
    }

    void seqs() const
    {
        std::vector<std::uint32_t> order(symbols_.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [this](std::uint32_t a, std::uint32_t b) {
            if (symbols_[a].name != symbols_[b].name) return symbols_[a].name < symbols_[b].name;
            return symbols_[a].address < symbols_[b].address;
        });
        for (std::uint32_t seq : order) {
            out_->push_back(static_cast<std::uint8_t>(seq >> 16));
            out_->push_back(static_cast<std::uint8_t>(seq >> 8));
            out_->push_back(static_cast<std::uint8_t>(seq));
        }
    }

    void put(std::uint64_t value, unsigned size) const
    {
        for (unsigned k = 0; k < size; ++k) out_->push_back(static_cast<std::uint8_t>(value >> (8 * k)));
    }

    std::vector<KallsymsSymbolSpec> symbols_;
    std::vector<std::vector<std::uint8_t>> compressed_;
    std::array<std::string, 256> tokens_;
    mutable std::vector<std::uint8_t>* out_ = nullptr;
};

} // namespace vmi_test
