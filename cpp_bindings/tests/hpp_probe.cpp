// Exercises the C++ wrapper (mer_edge.hpp); run by tests/test_cpp_bindings.py.
// Prints one "<step>\t<status>\t<text>" line per step, like capi_probe.c.
#include <cstdint>
#include <iostream>
#include <utility>
#include <vector>

#include "mer_edge/mer_edge.hpp"

namespace {

void Report(const char* step, int status, const std::string& text) {
  std::cout << step << '\t' << status << '\t' << text << std::endl;
}

}  // namespace

int main() {
  const int width = 64, height = 48;
  std::vector<std::uint8_t> frame(width * height * 3, 100);
  try {
    mer_edge::Engine unknown(R"({"not_an_option": true})");
    Report("unknown_option", 0, "no exception");
  } catch (const mer_edge::Error& error) {
    Report("unknown_option", error.status(), error.what());
  }
  try {
    mer_edge::Engine engine(R"({"recognize": false})");
    Report("process", 0, engine.Process(frame.data(), width, height, width * 3, 10.0));
    mer_edge::Engine moved = std::move(engine);  // the moved-from engine is empty
    Report("process_moved", 0, moved.Process(frame.data(), width, height, width * 3, 20.0));
    try {
      moved.Process(frame.data(), width, height, width * 3, 5.0);
      Report("backwards", 0, "no exception");
    } catch (const mer_edge::Error& error) {
      Report("backwards", error.status(), error.what());
    }
    Report("flush", 0, moved.Flush());
    moved.Close();
    moved.Close();
  } catch (const mer_edge::Error& error) {
    Report("unexpected", error.status(), error.what());
    return 1;
  }
  Report("version", 0, mer_edge::Version());
  return 0;
}
