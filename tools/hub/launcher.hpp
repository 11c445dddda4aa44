// The enos-hub commands that manage the hub's processes: start, stop, broker-stop, broker-start,
// issue-cert and watch. Each gets its command name as argv[0] and returns the process exit code.
#pragma once

namespace enos::hub {

int start_main(int argc, char** argv);
int stop_main(int argc, char** argv);
int broker_stop_main(int argc, char** argv);
int broker_start_main(int argc, char** argv);
int issue_cert_main(int argc, char** argv);
int watch_main(int argc, char** argv);

} // namespace enos::hub
