// An IR evaluation set built from held-out (anchor, positive) rows, the way the
// sentence-transformers fine-tuning recipes do it (philschmid's MiniLM / bge guides):
// queries are the anchors of the held-out rows; the corpus is every positive of the rows
// given as corpus (train + val + test in the recipes), so that retrieval has to find the
// right context among all of them; each query is relevant to its own row's positive.
//
// One deliberate refinement: the same positive text in several rows is ONE document,
// relevant to every query whose row has it. The recipes key the corpus by row id, which
// keeps identical copies as separate documents and lets an arbitrary tie-break decide
// whether retrieving "the other copy" counts; exact-text deduplication removes that noise.
//
// Ids: a row's id is its 'id' column when the dataset maps one, else its row index in the
// dataset (decimal). A document takes the id of the first corpus row that has its text.
#pragma once

#include <cstdint>
#include <vector>

#include "data/ir_set.h"
#include "data/text_dataset.h"

namespace disttune {

// query_rows and corpus_rows index into d; every query row must also be a corpus row (or
// have its positive text among the corpus rows). Throws UserError for a dataset without
// anchor/positive roles.
IrSet ir_set_from_pairs(const TextDataset& d, const std::vector<int64_t>& query_rows,
                        const std::vector<int64_t>& corpus_rows);

}  // namespace disttune
