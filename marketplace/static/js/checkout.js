// The card payment page (membership and partner billing; DESIGN "Payments (Stripe)", card flow):
// the card element confirms a SetupIntent, the server charges the saved card with a
// PaymentIntent (confirm=true), and a 3-D Secure step, when the bank asks for one, is completed
// with confirmCardPayment before the server syncs the payment. Everything the page needs comes
// from data-* attributes of #card-checkout (templates/payments/_card_checkout.html), URLs
// included; messages are translated by the server.
(function () {
  "use strict";
  var root = document.getElementById("card-checkout");
  if (!root) {
    return;
  }
  var data = root.dataset;
  var form = document.getElementById("card-form");
  var button = document.getElementById("card-submit");
  var statusLine = document.getElementById("card-status");
  var done = document.getElementById("card-done");
  var again = document.getElementById("card-again");

  function say(message, isError) {
    statusLine.textContent = message || "";
    statusLine.classList.toggle("flash", Boolean(isError));
    statusLine.classList.toggle("flash-error", Boolean(isError));
  }

  function busy(on) {
    button.disabled = on;
    if (on) {
      button.setAttribute("aria-busy", "true");
    } else {
      button.removeAttribute("aria-busy");
    }
  }

  if (typeof window.Stripe !== "function") {
    say(data.msgUnavailable, true);
    button.disabled = true;
    return;
  }

  var stripe = window.Stripe(data.publishableKey);
  var card = null;
  if (!data.paymentSecret) {
    card = stripe.elements().create("card");
    card.mount("#card-element");
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": data.csrfToken
      },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () {
        return {status: "failed"};
      });
    });
  }

  function finish(answer) {
    if (answer.status === "succeeded") {
      say(data.msgSuccess, false);
      form.hidden = true;
      again.hidden = true;
      done.hidden = false;
      return;
    }
    say(answer.message || data.msgFailed, true);
    if (answer.status === "failed") {
      form.hidden = true;
      done.hidden = false;
    } else {
      busy(false);
    }
  }

  async function authenticate(secret) {
    // The result of the bank's step is read by the server from Stripe, not from the page.
    await stripe.confirmCardPayment(secret);
    return post(data.syncUrl);
  }

  async function pay() {
    if (data.paymentSecret) {
      return authenticate(data.paymentSecret);
    }
    var setup = await stripe.confirmCardSetup(data.setupSecret, {payment_method: {card: card}});
    if (setup.error) {
      return {status: "retry", message: setup.error.message || data.msgFailed};
    }
    var method = setup.setupIntent.payment_method;
    var answer = await post(data.confirmUrl, {
      payment_method: typeof method === "string" ? method : method.id
    });
    if (answer.status === "requires_action" && answer.payment_intent_client_secret) {
      return authenticate(answer.payment_intent_client_secret);
    }
    return answer;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    busy(true);
    say(data.msgWorking, false);
    pay().then(finish, function () {
      finish({status: "retry", message: data.msgFailed});
    });
  });
})();
