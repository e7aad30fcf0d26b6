/* a view of the config header: kernel/a.o reads these */
#define CONFIG_A 1
