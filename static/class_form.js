// New class form: shows the online share of the hours against the policy's ceiling as the numbers are typed.
(function () {
  var f = document.getElementById('class-form'), out = document.getElementById('share');
  function show() {
    var t = parseFloat(f.total_hours.value), o = parseFloat(f.online_hours.value);
    var max = parseFloat(f.policy_profile.selectedOptions[0].dataset.max);
    if (!(t > 0) || isNaN(o)) { out.textContent = '—'; return; }
    out.textContent = Math.round(o / t * 1000) / 10 + '%（上限 ' + Math.round(max * 100) + '%）';
    out.className = o / t > max + 1e-9 ? 'over' : '';
  }
  f.addEventListener('input', show); f.addEventListener('change', show); show();
})();
