/* ts.io: file formats (IDX, .npy, safetensors). */
#include "binding.h"

void tsb_open_io(lua_State *L) { (void)L; }
