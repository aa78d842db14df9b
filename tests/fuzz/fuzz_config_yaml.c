/* Fuzz target: a service's configuration file (cpm_config_load), written to
 * a file first since the loader takes a path. */
#include "fuzz_env.h"

#include "cpm_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    if (fz_write_file("service.yaml", data, size, path) != 0)
        fz_die("write", path);
    cpm_config_t *cfg = NULL;
    cpm_error_t err;
    if (cpm_config_load(path, &cfg, &err) != 0 && cfg)
        fz_die("config", "an error with a config");
    cpm_config_destroy(&cfg);
    return 0;
}
