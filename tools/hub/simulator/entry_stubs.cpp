#include "simulator.hpp"

#include <cstdio>

namespace enos::hub {

int simulator_main(int, char**) {
    std::fputs("enos-hub simulate: not ready\n", stderr);
    return exit_failure;
}

int inject_main(int, char**) {
    std::fputs("enos-hub: injection commands not ready\n", stderr);
    return exit_failure;
}

int query_main(int, char**) {
    std::fputs("enos-hub query: not ready\n", stderr);
    return exit_failure;
}

} // namespace enos::hub
