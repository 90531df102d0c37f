#pragma once
// Text output in columns, as ps and lsmod print it: a header row, numbers
// right-aligned, the last column left as is. Without headers (for scripts)
// columns are joined by single spaces, so `diff` and `awk` need no care.
#include <string>
#include <vector>

namespace vmi {

class TextTable {
public:
    struct Column {
        std::string header;
        bool right_aligned = false;
    };

    explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
    void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
    std::string render(bool headers) const;

private:
    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

} // namespace vmi
