/* hausbus-notification: wiring only; the logic is in handlers.c, the sender in sender.c. */
#include "handlers.h"
#include "sender.h"

int main(int argc, char **argv)
{
    struct hb_component def = notification_component;
    notification_sender_wire(&def);
    return hb_component_main(&def, argc, argv);
}
