#pragma once
// The version recorded with every result line and printed by `qrobust --version`.
#define QROBUST_VERSION "0.1.0"
