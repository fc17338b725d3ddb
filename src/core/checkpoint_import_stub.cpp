// TEMPORARY: lets the fetch branch link until the real importer (branch `import`) is merged.
#include "actmap/checkpoint_import.h"

#include "actmap/error.h"

namespace actmap {

ImportResult import_checkpoint(const std::string&, const ImportOptions&) {
  throw Error("checkpoint import is not built yet");
}

ImportResult import_checkpoint_bytes(const std::vector<std::uint8_t>&, const std::string&, const ImportOptions&) {
  throw Error("checkpoint import is not built yet");
}

}  // namespace actmap
