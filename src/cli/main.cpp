// actmap-cli: the headless front end over the core library.
#include <iostream>

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include "actmap/io/error.h"
#include "actmap/model/device.h"
#include "cli_common.h"

int main(int argc, char** argv) {
  actmap::tune_memory_allocator();
  CLI::App app{"actmap-cli: look inside image generators, edit their activations, render the result headless.\n"
               "Models are cards (models/*.json) given by path or by name; weights are found beside the\n"
               "card, in the directories of ACTMAP_MODEL_PATH (colon-separated) or among the models\n"
               "downloaded with `actmap-cli fetch`."};
  app.require_subcommand(1);
  actmap::cli::register_layers(app);
  actmap::cli::register_render(app);
  actmap::cli::register_bench(app);
  actmap::cli::register_session_tools(app);
  actmap::cli::register_bench_edits(app);
  actmap::cli::register_cluster(app);
  actmap::cli::register_dissect(app);
  actmap::cli::register_animate(app);
  actmap::cli::register_research(app, std::vector<std::string>(argv, argv + argc));
  actmap::cli::register_train(app, std::vector<std::string>(argv, argv + argc));
  actmap::cli::register_fetch(app);
  actmap::cli::register_import(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const actmap::Error& e) {
    std::cerr << "actmap-cli: error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    std::cerr << "actmap-cli: error: " << what.substr(0, what.find('\n')) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "actmap-cli: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
