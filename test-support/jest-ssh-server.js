// Jest's global setup for the integration suite: one line saying which SSH server the tests run
// against and how to get the other; with REQUIRE_OPENSSH=1, a missing sshd fails the run here.
import { sshServerChoice } from './sshd.js'

export default function sayWhichSshServer() {
  process.stdout.write(`\n${sshServerChoice().description}\n`)
}
