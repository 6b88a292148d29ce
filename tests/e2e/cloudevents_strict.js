// Reads one JSON event per line on stdin and parses each with the CloudEvents SDK in strict
// mode; prints one JSON line per event: null when valid, else the SDK's complaint.
const { CloudEvent } = require("cloudevents");
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.trim());
for (const line of lines) {
  try {
    new CloudEvent(JSON.parse(line), true);
    console.log("null");
  } catch (e) {
    console.log(JSON.stringify(String(e.message) + " " + JSON.stringify(e.errors || "")));
  }
}
