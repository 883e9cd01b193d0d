/* Optimizer update ops (stateful, run after every pure node). */
#include "ops.h"

const tsi_opdef tsi_ops_train[] = {
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};
