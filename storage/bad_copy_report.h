// Tells the master that this node's copy of a blob is bad
// (POST /api/v1/blobs/<id>/bad), so it stops reading from it and has it
// rewritten from a good copy. Used by the scrubber and by reads that find a
// block failing its checksum. Goes to whichever master answers (MasterSet);
// repeating a report is harmless.
#pragma once

#include <string>

#include "common/master_set.h"
#include "common/status.h"

namespace dfs::storage {

Status ReportBadCopy(const MasterSet& masters, const std::string& node_id, const std::string& blob_id);

}  // namespace dfs::storage
