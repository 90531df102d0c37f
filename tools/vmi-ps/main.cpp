// vmi-ps: list a guest's processes from outside, as the guest kernel keeps
// them (the paper's Table 1 experiment).
#include <algorithm>
#include <set>

#include "vmi/Diagnostics.hpp"
#include "vmi/Error.hpp"
#include "vmi/Hexdump.hpp"
#include "vmi/LinuxKernel.hpp"
#include "vmi/OutputFormat.hpp"
#include "vmi/ScopedPause.hpp"
#include "vmi/Session.hpp"
#include "vmi/TextTable.hpp"
#include "vmi/ToolMain.hpp"

namespace {

const std::vector<std::string> ALL_COLUMNS{"pid", "tid", "ppid", "uid", "gid", "state", "name", "comm", "task", "dtb", "cmd"};

struct PsOptions {
    vmi::SessionOptions session;
    std::string columns;
    bool no_headers = false;
    bool threads = false;
    std::vector<std::int64_t> pids;
    bool no_pause = false;
};

std::vector<std::string> parse_columns(const PsOptions& options)
{
    std::string list = options.columns;
    if (list.empty()) list = options.threads ? "pid,tid,ppid,uid,state,name" : "pid,ppid,uid,state,name";
    std::vector<std::string> columns;
    std::size_t start = 0;
    while (start <= list.size()) {
        std::size_t comma = list.find(',', start);
        std::string column = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (std::find(ALL_COLUMNS.begin(), ALL_COLUMNS.end(), column) == ALL_COLUMNS.end())
            vmi::fail("-o: unknown column '{}' (known: pid, tid, ppid, uid, gid, state, name, comm, task, dtb, cmd)", column);
        columns.push_back(column);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return columns;
}

std::string cell(const std::string& column, const vmi::LinuxTask& task, vmi::LinuxKernel& linux_kernel)
{
    if (column == "pid") return std::to_string(task.tgid);
    if (column == "tid") return std::to_string(task.pid);
    if (column == "ppid") return std::to_string(task.ppid);
    if (column == "uid") return std::to_string(task.uid);
    if (column == "gid") return std::to_string(task.gid);
    if (column == "state") return std::string(1, task.state);
    if (column == "name") return vmi::printable(task.name);
    if (column == "comm") return vmi::printable(task.comm);
    if (column == "task") return vmi::hex_address(task.address);
    if (column == "dtb") return task.dtb ? vmi::hex_address(*task.dtb) : "-";
    return vmi::printable(linux_kernel.command_line(task));
}

nlohmann::json task_json(const vmi::LinuxTask& task, bool with_cmd, vmi::LinuxKernel& linux_kernel)
{
    nlohmann::json out{{"pid", task.tgid},
                       {"tid", task.pid},
                       {"ppid", task.ppid},
                       {"uid", task.uid},
                       {"gid", task.gid},
                       {"state", std::string(1, task.state)},
                       {"name", task.name},
                       {"comm", task.comm},
                       {"task", vmi::hex_address(task.address)},
                       {"dtb", task.dtb ? nlohmann::json(vmi::hex_address(*task.dtb)) : nlohmann::json(nullptr)},
                       {"kernel_thread", task.kernel_thread}};
    if (with_cmd) out["cmd"] = linux_kernel.command_line(task);
    return out;
}

int run(PsOptions& options)
{
    std::vector<std::string> columns = parse_columns(options);
    vmi::OutputFormat format = options.session.format();
    vmi::Session session = vmi::Session::open(options.session);
    std::vector<vmi::LinuxTask> tasks;
    std::vector<std::string> problems;
    std::vector<std::string> output;
    {
        // The lists are walked, and command lines read, while the guest is paused.
        vmi::LinuxKernel linux_kernel(session); // attach before pausing: the paused window is the walk only
        vmi::ScopedPause pause(session.memory(), !options.no_pause);
        vmi::TaskListing listing = linux_kernel.tasks({.threads = options.threads});
        tasks = std::move(listing.tasks);
        problems = std::move(listing.problems);
        std::sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) {
            return std::tie(a.tgid, a.pid) < std::tie(b.tgid, b.pid);
        });
        if (!options.pids.empty()) {
            std::set<std::int64_t> wanted(options.pids.begin(), options.pids.end());
            std::erase_if(tasks, [&](const vmi::LinuxTask& t) { return !wanted.count(t.tgid); });
            for (std::int64_t pid : options.pids)
                if (std::none_of(tasks.begin(), tasks.end(), [&](const auto& t) { return t.tgid == pid; }))
                    problems.push_back(fmt::format("no process with pid {}", pid));
        }

        bool with_cmd = std::find(columns.begin(), columns.end(), "cmd") != columns.end();
        if (format == vmi::OutputFormat::Text) {
            std::vector<vmi::TextTable::Column> table_columns;
            for (const std::string& column : columns) {
                std::string header = column;
                std::transform(header.begin(), header.end(), header.begin(), ::toupper);
                bool numeric = column == "pid" || column == "tid" || column == "ppid" || column == "uid" || column == "gid";
                table_columns.push_back({header, numeric});
            }
            vmi::TextTable table(table_columns);
            for (const vmi::LinuxTask& task : tasks) {
                std::vector<std::string> row;
                for (const std::string& column : columns) row.push_back(cell(column, task, linux_kernel));
                table.add_row(std::move(row));
            }
            output.push_back(table.render(!options.no_headers));
        } else {
            nlohmann::json all = nlohmann::json::array();
            for (const vmi::LinuxTask& task : tasks) {
                nlohmann::json item = task_json(task, with_cmd, linux_kernel);
                if (format == vmi::OutputFormat::JsonLines) output.push_back(vmi::to_json_text(item) + "\n");
                else all.push_back(std::move(item));
            }
            if (format == vmi::OutputFormat::Json) output.push_back(vmi::to_json_text(all) + "\n");
        }
    }
    // Printing happens after the guest runs again.
    for (const std::string& text : output) fmt::print("{}", text);
    for (const std::string& problem : problems) vmi::diag::warn("{}", problem);
    return problems.empty() ? vmi::EXIT_OK : vmi::EXIT_ERROR;
}

} // namespace

int main(int argc, char** argv)
{
    PsOptions options;
    return vmi::run_tool(
        "vmi-ps", "List a guest's processes from outside the guest.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_session_options(app, options.session);
            app.add_option("-o,--columns", options.columns,
                           "Columns, comma-separated: pid, tid, ppid, uid, gid, state, name, comm, task, dtb, cmd "
                           "(default pid,ppid,uid,state,name)");
            app.add_flag("--no-headers", options.no_headers, "No header line; columns joined by single spaces");
            app.add_flag("--threads", options.threads, "List every thread, not only each process's leader");
            app.add_option("--pid", options.pids, "Only this process (repeatable)");
            app.add_flag("--no-pause", options.no_pause, "Read a live guest without pausing it");
        },
        [&] { return run(options); });
}
