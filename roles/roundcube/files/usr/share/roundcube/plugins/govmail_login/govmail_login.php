<?php
/**
 * govmail_login: says why Dovecot refused a login, instead of Roundcube's generic "Login failed".
 *
 * Dovecot checks the password first, then refuses a suspended account or one whose password must be
 * changed (pwdReset) with a reason that starts with a marker (roles/dovecot, dovecot__explain_logins).
 * A must-change account is sent to the password page; a suspended one sees the explanation with a
 * link to the password page and the support address. Wrong passwords keep the generic message, so
 * nothing is told to someone who does not know the password.
 */
class govmail_login extends rcube_plugin
{
    public $task = 'login|logout';
    private $reason = null;

    function init()
    {
        $this->load_config();
        $this->add_hook('login_failed', [$this, 'login_failed']);
        $this->add_hook('template_object_loginform', [$this, 'loginform']);
    }

    function login_failed($args)
    {
        $rcmail = rcmail::get_instance();
        $error = $rcmail->storage ? (string) $rcmail->storage->get_error_str() : '';
        if (strpos($error, 'GOVMAIL-PASSWORD-RESET') !== false) {
            $url = $rcmail->config->get('govmail_password_page_url', '/password');
            header('Location: ' . $url . (strpos($url, '?') === false ? '?' : '&') . 'reason=reset', true, 303);
            exit;
        }
        if (strpos($error, 'GOVMAIL-SUSPENDED') !== false) {
            $this->reason = 'suspended';
        }
        return $args;
    }

    function loginform($args)
    {
        if ($this->reason === null) {
            return $args;
        }
        $rcmail = rcmail::get_instance();
        $this->add_texts('localization/');
        $url = $rcmail->config->get('govmail_password_page_url', '/password');
        $support = $rcmail->config->get('govmail_support_address', '');
        $html = html::div(
            ['id' => 'govmail-login-reason', 'class' => 'alert alert-warning', 'role' => 'alert'],
            html::p(null, rcube::Q($this->gettext($this->reason)))
            . html::p(null,
                html::a(['href' => $url, 'id' => 'govmail-password-link'], rcube::Q($this->gettext('passwordpage')))
                . ($support ? ' · ' . html::a(['href' => 'mailto:' . $support], rcube::Q($support)) : '')
            )
        );
        $args['content'] = $html . $args['content'];
        return $args;
    }
}
