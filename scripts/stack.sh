#!/usr/bin/env bash
# The local stack without Docker: a real Apache Kafka broker (KRaft, single node)
# and a real Confluent-compatible schema registry (Apicurio Registry 3.x, ccompat API).
#
#   scripts/stack.sh up      fetch (first time), start both in the background, wait, print URLs
#   scripts/stack.sh down    stop both
#   scripts/stack.sh status  say what runs
#
# Downloads are cached in .stack/ (git-ignored) and in Maven's cache; logs go to .stack/logs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${STACK_DIR:-$ROOT/.stack}"
KAFKA_PORT="${STACK_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${STACK_CONTROLLER_PORT:-9093}"
REGISTRY_PORT="${STACK_REGISTRY_PORT:-8081}"
REGISTRY_MGMT_PORT="${STACK_REGISTRY_MGMT_PORT:-9081}"
APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}"
KAFKA_LIBS="$STACK/kafka-libs"
KAFKA_DATA="$STACK/kafka-data"
APICURIO_HOME="$STACK/apicurio-$APICURIO_VERSION"
LOGS="$STACK/logs"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# Apicurio 3.2+ needs Java 21+. Take JAVA21_HOME, else the newest JDK under /usr/lib/jvm that is >= 21.
registry_java() {
  if [ -n "${JAVA21_HOME:-}" ]; then echo "$JAVA21_HOME/bin/java"; return; fi
  local best="" v
  for j in /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    v=$("$j" -version 2>&1 | head -1 | sed -E 's/.*version "([0-9]+).*/\1/')
    if [ "${v:-0}" -ge 21 ] 2>/dev/null; then best="$j"; fi
  done
  if [ -z "$best" ]; then
    v=$(java -version 2>&1 | head -1 | sed -E 's/.*version "([0-9]+).*/\1/')
    [ "${v:-0}" -ge 21 ] 2>/dev/null && best="$(command -v java)"
  fi
  [ -n "$best" ] || die "Apicurio Registry $APICURIO_VERSION needs Java 21+; set JAVA21_HOME"
  echo "$best"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch() {
  mkdir -p "$STACK" "$LOGS"
  if [ ! -f "$KAFKA_LIBS/.complete" ]; then
    log "fetching Apache Kafka and its runtime dependencies from Maven Central"
    rm -rf "$KAFKA_LIBS"
    mvn -q -B -f "$ROOT/scripts/stack/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"$LOGS/fetch-kafka.log" 2>&1 \
      || { cat "$LOGS/fetch-kafka.log" >&2; die "could not fetch Kafka"; }
    touch "$KAFKA_LIBS/.complete"
  fi
  if [ ! -f "$APICURIO_HOME/quarkus-run.jar" ]; then
    log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central"
    mvn -q -B dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
      -DoutputDirectory="$STACK/dl" >"$LOGS/fetch-apicurio.log" 2>&1 \
      || { cat "$LOGS/fetch-apicurio.log" >&2; die "could not fetch Apicurio Registry"; }
    rm -rf "$APICURIO_HOME.tmp" && mkdir -p "$APICURIO_HOME.tmp"
    tar xzf "$STACK/dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$APICURIO_HOME.tmp"
    rm -rf "$APICURIO_HOME" && mv "$APICURIO_HOME.tmp" "$APICURIO_HOME"
  fi
}

start_kafka() {
  if pid_alive "$STACK/kafka.pid"; then log "kafka already running (pid $(cat "$STACK/kafka.pid"))"; return; fi
  if port_open "$KAFKA_PORT"; then die "port $KAFKA_PORT is taken by another process"; fi
  local props="$STACK/server.properties"
  cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
EOF
  local cp="$KAFKA_LIBS/*"
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    local cid
    cid=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java -cp "$cp" kafka.tools.StorageTool format -t "$cid" -c "$props" --standalone >"$LOGS/kafka-format.log" 2>&1 \
      || java -cp "$cp" kafka.tools.StorageTool format -t "$cid" -c "$props" >"$LOGS/kafka-format.log" 2>&1 \
      || { cat "$LOGS/kafka-format.log" >&2; die "could not format Kafka storage"; }
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    -cp "$cp" kafka.Kafka "$props" >"$LOGS/kafka.log" 2>&1 &
  echo $! >"$STACK/kafka.pid"
}

start_registry() {
  if pid_alive "$STACK/registry.pid"; then log "registry already running (pid $(cat "$STACK/registry.pid"))"; return; fi
  if port_open "$REGISTRY_PORT"; then die "port $REGISTRY_PORT is taken by another process"; fi
  local java; java=$(registry_java)
  log "starting schema registry on 127.0.0.1:$REGISTRY_PORT"
  (cd "$APICURIO_HOME"
   nohup "$java" -Xms128m -Xmx384m \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.port="$REGISTRY_MGMT_PORT" -Dquarkus.management.host=127.0.0.1 \
    -jar quarkus-run.jar >"$LOGS/registry.log" 2>&1 &
    echo $! >"$STACK/registry.pid")
}

wait_ready() {
  local deadline=$((SECONDS + ${STACK_TIMEOUT:-180}))
  until port_open "$KAFKA_PORT" && grep -q "Kafka Server started\|KafkaRaftServer.*started\|Kafka startTimeMs" "$LOGS/kafka.log" 2>/dev/null; do
    pid_alive "$STACK/kafka.pid" || { tail -40 "$LOGS/kafka.log" >&2; die "kafka exited; see $LOGS/kafka.log"; }
    [ $SECONDS -lt $deadline ] || die "kafka did not start in time; see $LOGS/kafka.log"
    sleep 0.5
  done
  until curl -fsS "$REGISTRY_URL/subjects" >/dev/null 2>&1; do
    pid_alive "$STACK/registry.pid" || { tail -40 "$LOGS/registry.log" >&2; die "registry exited; see $LOGS/registry.log"; }
    [ $SECONDS -lt $deadline ] || die "registry did not start in time; see $LOGS/registry.log"
    sleep 0.5
  done
}

stop_one() {
  local name="$1" pidfile="$STACK/$1.pid"
  if pid_alive "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  else
    log "$name not running"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  up)
    start=$SECONDS
    fetch
    start_kafka
    start_registry
    wait_ready
    log "ready in $((SECONDS - start))s"
    echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
    echo "SCHEMA_REGISTRY_URL=$REGISTRY_URL"
    ;;
  down)
    stop_one registry
    stop_one kafka
    ;;
  reset)
    "$0" down
    rm -rf "$KAFKA_DATA"
    log "kafka data removed"
    ;;
  status)
    pid_alive "$STACK/kafka.pid" && log "kafka running (pid $(cat "$STACK/kafka.pid"))" || log "kafka stopped"
    pid_alive "$STACK/registry.pid" && log "registry running (pid $(cat "$STACK/registry.pid"))" || log "registry stopped"
    log "kafka data $KAFKA_DATA"
    ;;
  *)
    echo "usage: $0 up|down|reset|status" >&2; exit 2 ;;
esac
