// A tiny C++ host built against the installed sesh package, through sesh.hpp.
#include <sesh.hpp>

#include <cstdio>

int main() {
  try {
    sesh::Options options;
    options.set_namespace("consumer-cpp").set_clock([] { return INT64_C(1700000000000); });
    sesh::Handle sesh(options);
    std::optional<std::string> entity = sesh.track();
    bool ok = entity && entity->find("\"sessionIndex\":1") != std::string::npos &&
              sesh.session_index() == 1;
    try {
      sesh.track("not-a-uuid");
      ok = false;
    } catch (const sesh::Error &error) {
      ok = ok && error.status() == SESH_STATUS_INVALID_ARGUMENT;
    }
    sesh.close();
    std::printf("sesh %s (C++): %s\n", sesh::version(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
  } catch (const sesh::Error &error) {
    std::fprintf(stderr, "%s: %s\n", error.status_name(), error.what());
    return 1;
  }
}
