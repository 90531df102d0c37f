#pragma once
// A tool's output columns in one table, as util-linux's lsblk and lsns keep
// them: for each column its id (the -o name and the JSON key), its header,
// its alignment, its help line and how to get its value from a row. The one
// table drives -o parsing and its error message, the default set, the
// "Available output columns" help, the text headers and the JSON keys.
#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/Cell.hpp"
#include "common/TableWriter.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {

template <typename Row>
struct Column {
    Column(std::string_view id_, std::string_view header_, Align align_, std::string_view help_,
           std::function<Cell(const Row&)> value_, std::vector<std::string_view> needs_ = {})
        : id(id_), header(header_), align(align_), help(help_), value(std::move(value_)), needs(std::move(needs_))
    {}

    std::string_view id;
    std::string_view header;
    Align align;
    std::string_view help;
    std::function<Cell(const Row&)> value;
    // The layout keys its value reads beyond those the walk itself needs: without
    // them the column is shown as "-" (warn_unavailable_columns).
    std::vector<std::string_view> needs;
};

template <typename Row>
class ColumnTable {
public:
    // Without -o, text shows `default_ids`; JSON carries `json_ids`, by
    // default every column.
    ColumnTable(std::vector<Column<Row>> columns, std::string_view default_ids, std::string_view json_ids = {})
        : columns_(std::move(columns)), default_ids_(default_ids), json_ids_(json_ids)
    {}

    // The columns a -o list names, in its order; the defaults for an empty list.
    std::vector<const Column<Row>*> select(std::string_view list, OutputFormat format = OutputFormat::Text) const
    {
        if (list.empty() && format != OutputFormat::Text) {
            if (json_ids_.empty()) return all();
            list = json_ids_;
        }
        if (list.empty()) list = default_ids_;
        std::vector<const Column<Row>*> chosen;
        std::size_t start = 0;
        while (start <= list.size()) {
            std::size_t comma = list.find(',', start);
            std::string_view id =
                list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
            const Column<Row>* column = find(id);
            if (!column) fail("-o: unknown column '{}' (known: {})", id, ids());
            chosen.push_back(column);
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        return chosen;
    }

    // "pid, tid, ppid, ..."
    std::string ids() const
    {
        std::string out;
        for (const Column<Row>& column : columns_) out += (out.empty() ? "" : ", ") + std::string(column.id);
        return out;
    }

    std::string_view default_ids() const { return default_ids_; }

    // The help section, as lsblk prints it.
    std::string help() const
    {
        std::size_t width = 0;
        for (const Column<Row>& column : columns_) width = std::max(width, column.id.size());
        std::string out = "Available output columns:\n";
        for (const Column<Row>& column : columns_) out += fmt::format("  {:<{}}  {}\n", column.id, width, column.help);
        return out;
    }

    std::vector<ColumnHeading> headings(const std::vector<const Column<Row>*>& chosen) const
    {
        std::vector<ColumnHeading> out;
        out.reserve(chosen.size());
        for (const Column<Row>* column : chosen) out.push_back({column->id, column->header, column->align});
        return out;
    }

    std::vector<Cell> cells(const std::vector<const Column<Row>*>& chosen, const Row& row) const
    {
        std::vector<Cell> out;
        out.reserve(chosen.size());
        for (const Column<Row>* column : chosen) out.push_back(column->value(row));
        return out;
    }

private:
    std::vector<const Column<Row>*> all() const
    {
        std::vector<const Column<Row>*> out;
        out.reserve(columns_.size());
        for (const Column<Row>& column : columns_) out.push_back(&column);
        return out;
    }

    const Column<Row>* find(std::string_view id) const
    {
        for (const Column<Row>& column : columns_)
            if (column.id == id) return &column;
        return nullptr;
    }

    std::vector<Column<Row>> columns_;
    std::string_view default_ids_;
    std::string_view json_ids_;
};

// One warning for the chosen columns the guest's layout cannot fill (shown
// as "-"), naming the keys that would fill them: a LibVMI config entry, say,
// has only five. `missing(column)` gives those of the column's `needs` the
// layout lacks.
template <typename Row, typename Missing>
void warn_unavailable_columns(const std::vector<const Column<Row>*>& chosen, Missing&& missing)
{
    std::vector<std::string_view> columns;
    std::vector<std::string_view> keys;
    for (const Column<Row>* column : chosen) {
        std::vector<std::string_view> lacking = missing(*column);
        if (lacking.empty()) continue;
        columns.push_back(column->id);
        for (std::string_view key : lacking)
            if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
    if (columns.empty()) return;
    diag::warn("column{} {} shown as '-': the config entry sets no {} (or give --btf)", columns.size() == 1 ? "" : "s",
               fmt::join(columns, ", "), fmt::join(keys, ", "));
}

// -o, --no-headers and -r/--raw, with the column help in the footer.
struct TableOptions {
    std::string columns;
    bool no_headers = false;
    bool raw = false;
};

template <typename Row>
void add_table_options(CLI::App& app, TableOptions& options, const ColumnTable<Row>& table)
{
    app.add_option("-o,--output,--columns", options.columns,
                   fmt::format("Columns, comma-separated (default {}; see below)", table.default_ids()));
    app.add_flag("--no-headers", options.no_headers, "Print no header line");
    app.add_flag("-r,--raw", options.raw,
                 "Columns separated by one space, not aligned (spaces inside a column but the last as \\x20)");
    app.footer(table.help() + "\n" + app.get_footer());
}

} // namespace vmi
