import { test } from "node:test";
import assert from "node:assert/strict";
import { REFUSED, SESSION_ENDED, refusalMessage } from "./core.mjs";

test("a refused widget's close code is its own", () => {
  assert.equal(REFUSED, 4003);
  assert.notEqual(REFUSED, SESSION_ENDED);
});

test("the login form says why the widget was refused", () => {
  assert.match(refusalMessage("refused: wrong_dynamics_user"), /another user than the one this agent id writes activities as/);
  assert.match(refusalMessage("refused: no_dynamics_user"), /no Dynamics user.*ctibridge agent dynamics-user/);
  assert.match(refusalMessage("refused: something_new"), /refused this widget \(something_new\)/);
  assert.match(refusalMessage(""), /no reason given/);
});
