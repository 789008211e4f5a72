/* Card payment with the provider's own card fields (Stripe.js Card Element).
 *
 * The card number never reaches the portal: Stripe.js sends it to the provider
 * and gives us a token, which we post to the portal; the portal charges it.
 * When the card holder's bank wants a confirmation (3-D Secure), Stripe.js
 * shows it (confirmCardPayment) and the portal then settles from the
 * provider's state. The invoice's status region updates itself from the live
 * stream (live.js) once the payment has been recorded.
 */
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof window.Stripe !== "function" || !window.fetch) return;

  var stripe = window.Stripe(form.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card", { hidePostalCode: true });
  card.mount("#card-element");
  form.hidden = false;

  var button = form.querySelector("button[type=submit]");
  var progress = document.getElementById("pay-progress");
  var error = document.getElementById("pay-error");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function say(text) {
    error.textContent = "";
    progress.textContent = text || "";
  }

  function fail(text) {
    progress.textContent = "";
    error.textContent = text || form.getAttribute("data-card-error-text");
    button.disabled = false;
  }

  function post(url, fields) {
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrf);
    Object.keys(fields).forEach(function (name) {
      body.append(name, fields[name]);
    });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    }).then(function (response) {
      return response.json().catch(function () {
        return { status: "error", message: "" };
      });
    });
  }

  async function pay() {
    var created = await stripe.createToken(card);
    if (!created || created.error || !created.token) {
      var problem = created && created.error;
      /* Stripe.js explains card and validation errors well; anything else gets ours. */
      var readable = problem && (problem.type === "card_error" || problem.type === "validation_error");
      fail(readable ? problem.message : "");
      return;
    }
    var answer = await post(form.action, { token: created.token.id });
    if (answer.status === "requires_action") {
      say(answer.message);
      /* Stripe.js's handleNextAction is meant for payments confirmed on the server;
       * localstripe's stand-in has only confirmCardPayment, which does the same there. */
      var confirmed = await (typeof stripe.handleNextAction === "function"
        ? stripe.handleNextAction({ clientSecret: answer.client_secret })
        : stripe.confirmCardPayment(answer.client_secret));
      answer = await post(answer.sync_url, {});
      if (confirmed && confirmed.error && answer.status !== "succeeded") {
        fail(confirmed.error.message || answer.message);
        return;
      }
    }
    if (answer.status === "succeeded" || answer.status === "processing") {
      say(answer.message);
      return;
    }
    fail(answer.message);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    say(form.getAttribute("data-processing-text"));
    pay().catch(function () {
      fail(form.getAttribute("data-network-error-text"));
    });
  });
})();
